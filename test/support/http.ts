export interface Reply<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** A tiny JSON client over real HTTP (Node's fetch). */
export async function call<T = any>(
  baseUrl: string,
  method: string,
  path: string,
  options: { body?: unknown; rawBody?: string; token?: string; headers?: Record<string, string> } = {},
): Promise<Reply<T>> {
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
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
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

export async function register(
  baseUrl: string,
  input: { email: string; role?: 'buyer' | 'organiser'; password?: string; name?: string; phone?: string },
): Promise<Session> {
  const res = await call<Session>(baseUrl, 'POST', '/v1/auth/register', {
    body: { password: 'a-long-enough-password', name: 'Test User', role: 'buyer', ...input },
  });
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${res.text}`);
  return res.body;
}
