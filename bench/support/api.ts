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
