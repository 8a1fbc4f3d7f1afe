import type { Problem } from '../api/client';

/** The problem document's `errors`, by field (the first message of each). */
export function fieldErrors(problem: Problem | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { field, message } of problem?.errors ?? []) out[field] ??= message;
  return out;
}

export function FieldErrors({ errors, name }: { errors: Record<string, string>; name: string }) {
  const message = errors[name];
  return message ? <span className="field-error">{message}</span> : null;
}
