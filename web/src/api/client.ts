import createClient from 'openapi-fetch';
import type { components, paths } from './schema';

export type Schemas = components['schemas'];
export type EventDto = Schemas['EventDto'];
export type TicketTypeDto = Schemas['TicketTypeDto'];
export type OrderDto = Schemas['OrderDto'];
export type UserDto = Schemas['UserDto'];
export type Problem = Schemas['ProblemDocumentDto'];

const STORE = 'tickr.session';

export interface Session {
  user: UserDto;
  accessToken: string;
  refreshToken: string;
}

type Listener = (session: Session | null) => void;
const listeners = new Set<Listener>();
let session: Session | null = readSession();
let refreshing: Promise<boolean> | null = null;

function readSession(): Session | null {
  try {
    const raw = localStorage.getItem(STORE);
    if (!raw) return null;
    const parsed: unknown = JSON.parse(raw);
    return isSession(parsed) ? parsed : null;
  } catch {
    return null;
  }
}

function isSession(value: unknown): value is Session {
  return typeof value === 'object' && value !== null && 'accessToken' in value && 'refreshToken' in value && 'user' in value;
}

export function currentSession(): Session | null {
  return session;
}

export function setSession(next: Session | null): void {
  session = next;
  if (next) localStorage.setItem(STORE, JSON.stringify(next));
  else localStorage.removeItem(STORE);
  listeners.forEach((listener) => listener(next));
}

export function onSession(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Trades the refresh token for a new pair once, however many requests got a 401 at the same time. */
async function refreshOnce(): Promise<boolean> {
  const current = session;
  if (!current) return false;
  refreshing ??= (async () => {
    const res = await fetch('/v1/auth/refresh', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refreshToken: current.refreshToken }),
    });
    if (!res.ok) {
      setSession(null);
      return false;
    }
    const body: Schemas['AuthResponseDto'] = await res.json();
    setSession({ user: body.user, accessToken: body.accessToken, refreshToken: body.refreshToken });
    return true;
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

/**
 * Every API call: the bearer token when signed in, and a silent refresh then one retry when the
 * access token has expired.
 */
export async function authFetch(input: Request): Promise<Response> {
  const retry = input.clone();
  const send = (request: Request) => {
    if (session && !request.headers.has('authorization')) request.headers.set('authorization', `Bearer ${session.accessToken}`);
    return fetch(request);
  };
  const res = await send(input);
  if (res.status !== 401 || !session || input.url.includes('/v1/auth/')) return res;
  if (!(await refreshOnce())) return res;
  return send(retry);
}

export const api = createClient<paths>({ baseUrl: location.origin, fetch: authFetch });

/** Keeps a session alive while the page is open: refreshed a minute before the access token expires. */
export function scheduleRefresh(expiresInSeconds: number): void {
  window.setTimeout(() => void refreshOnce(), Math.max(5, expiresInSeconds - 60) * 1000);
}

export function isProblem(value: unknown): value is Problem {
  return typeof value === 'object' && value !== null && 'code' in value && 'status' in value;
}

/** A call the generated types cannot carry without a cast (the multipart image upload): same auth, JSON out. */
export async function callJson<T>(path: string, init: RequestInit = {}): Promise<{ data?: T; error?: Problem; response: Response }> {
  const response = await authFetch(new Request(new URL(path, location.origin), init));
  const text = await response.text();
  const body: unknown = text ? JSON.parse(text) : undefined;
  if (!response.ok) return { error: isProblem(body) ? body : undefined, response };
  const data: T = text ? JSON.parse(text) : undefined;
  return { data, response };
}
