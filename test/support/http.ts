import { randomBytes } from 'node:crypto';

/**
 * The one API client of the tests and the benches: JSON over real HTTP (Node's fetch), and the
 * registration every fixture starts from.
 */

export interface Reply<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface CallOptions {
  body?: unknown;
  rawBody?: string;
  token?: string;
  headers?: Record<string, string>;
  /**
   * The status this call must get: anything else (or a body that is not JSON) throws, showing the
   * request and the answer, so a fixture never builds on a failure it did not notice.
   */
  expect?: number;
}

export async function call<T = any>(baseUrl: string, method: string, path: string, options: CallOptions = {}): Promise<Reply<T>> {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.rawBody !== undefined) body = options.rawBody;
  else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(`${baseUrl}${path}`, { method, headers, body });
  const text = await res.text();
  if (options.expect !== undefined && res.status !== options.expect) {
    const sent = body === undefined ? '' : ` ${body.slice(0, 500)}`;
    throw new Error(`${method} ${path}${sent}\n→ ${res.status} (expected ${options.expect}): ${text.slice(0, 2000)}`);
  }
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    if (options.expect !== undefined) throw new Error(`${method} ${path} → ${res.status} with a body that is not JSON: ${text.slice(0, 500)}`);
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body: parsed as T, text };
}

export interface Session {
  user: { id: string; email: string; name: string; role: string; phone: string | null };
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

export function uniqueEmail(tag = 'user'): string {
  return `${tag}-${randomBytes(5).toString('hex')}@example.com`;
}

/** `POST /v1/auth/register`; a unique e-mail unless one is given. */
export async function register(
  baseUrl: string,
  input: { email?: string; role?: 'buyer' | 'organiser'; password?: string; name?: string; phone?: string },
): Promise<Session> {
  const res = await call<Session>(baseUrl, 'POST', '/v1/auth/register', {
    body: { password: 'a-long-enough-password', name: 'Test User', role: 'buyer', ...input, email: input.email ?? uniqueEmail(input.role) },
  });
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${res.text}`);
  return res.body;
}
