import { randomBytes } from 'node:crypto';

export interface ApiResponse<T> {
  status: number;
  /** The body exactly as sent. */
  text: string;
  json: T;
  headers: Headers;
}

/**
 * One API call; anything but the expected status is an error that shows the request and the answer,
 * so a bench never measures or seeds on top of a failure it did not notice.
 */
export async function call<T = unknown>(
  baseUrl: string,
  method: string,
  path: string,
  options: { body?: unknown; token?: string; expect?: number } = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = {};
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await res.text();
  const expected = options.expect ?? 200;
  if (res.status !== expected) {
    const sent = options.body === undefined ? '' : ` ${JSON.stringify(options.body)}`;
    throw new Error(`${method} ${path}${sent}\n→ ${res.status} (expected ${expected}): ${text.slice(0, 2000)}`);
  }
  let json: T;
  try {
    json = (text ? JSON.parse(text) : undefined) as T;
  } catch {
    throw new Error(`${method} ${path} → ${res.status} with a body that is not JSON: ${text.slice(0, 500)}`);
  }
  return { status: res.status, text, json, headers: res.headers };
}

export interface RegisteredUser {
  user: { id: string; email: string; name: string; role: string };
  accessToken: string;
  refreshToken: string;
}

/** `POST /v1/auth/register` with a unique e-mail. */
export async function register(
  baseUrl: string,
  role: 'buyer' | 'organiser',
  name = role === 'organiser' ? 'Bench Organiser' : 'Bench Buyer',
): Promise<RegisteredUser> {
  const email = `bench-${role}-${randomBytes(5).toString('hex')}@example.com`;
  const res = await call<RegisteredUser>(baseUrl, 'POST', '/v1/auth/register', {
    body: { email, password: `bench-password-${randomBytes(6).toString('hex')}`, name, role },
    expect: 201,
  });
  return res.json;
}

const HOUR_MS = 3_600_000;

/**
 * A published event for a benchmark, through the public API: starts on the hour 30 days ahead,
 * lasts three hours, in Tunis (TND); `ticketTypes` are added before it is published.
 */
export async function publishedBenchEvent(
  base: string,
  token: string,
  event: { title: string; description: string; venue: { name: string; city: string; address: string } },
  ticketTypes: { name: string; price: number; capacity: number }[],
): Promise<{ eventId: string; ticketTypeIds: string[] }> {
  const startsAt = new Date(Math.ceil((Date.now() + 30 * 24 * HOUR_MS) / HOUR_MS) * HOUR_MS);
  const created = await call<{ id: string }>(base, 'POST', '/v1/events', {
    token,
    expect: 201,
    body: {
      ...event,
      category: 'concert',
      startsAt: startsAt.toISOString(),
      endsAt: new Date(startsAt.getTime() + 3 * HOUR_MS).toISOString(),
      timezone: 'Africa/Tunis',
      currency: 'TND',
    },
  });
  const eventId = created.json.id;
  const ticketTypeIds: string[] = [];
  for (const body of ticketTypes) {
    ticketTypeIds.push((await call<{ id: string }>(base, 'POST', `/v1/events/${eventId}/ticket-types`, { token, expect: 201, body })).json.id);
  }
  await call(base, 'POST', `/v1/events/${eventId}/publish`, { token, expect: 200 });
  return { eventId, ticketTypeIds };
}

/** `work(0)` … `work(count - 1)`, at most `concurrency` at a time; results in index order. */
export async function mapConcurrent<T>(count: number, concurrency: number, work: (i: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await work(i);
      }
    }),
  );
  return results;
}

/** The `code` of a problem document, or '' when the body is not one. */
export function problemCode(body: string): string {
  try {
    return String((JSON.parse(body) as { code?: unknown }).code ?? '');
  } catch {
    return '';
  }
}
