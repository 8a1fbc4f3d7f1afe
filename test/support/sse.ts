import type { Reply } from './http';

/** One block of a server-sent-events body: its fields, its comments, and when it was read. */
export interface SseEvent {
  event?: string;
  data?: string;
  comments: string[];
  at: number;
}

/** An open (or refused) event stream, read in the background until it ends or is closed. */
export interface SseConnection {
  status: number;
  headers: Headers;
  events: SseEvent[];
  /** The body ended (the server closed the stream). */
  ended: boolean;
  /** Settles when the body ends or the connection is closed. */
  finished: Promise<void>;
  close(): void;
  /** Every comment received (`connected`, `heartbeat …`, `end <reason>`). */
  comments(): string[];
  /** A refused stream's answer, its JSON body parsed (a problem document). */
  reply(): Promise<Reply>;
}

function toEvent(text: string): SseEvent {
  const out: SseEvent = { comments: [], at: Date.now() };
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === '') out.comments.push(value);
    else if (field === 'event') out.event = value;
    else if (field === 'data') out.data = out.data === undefined ? value : `${out.data}\n${value}`;
  }
  return out;
}

/** GET `path` as an event stream with this bearer token. */
export async function openSse(baseUrl: string, path: string, token: string): Promise<SseConnection> {
  const abort = new AbortController();
  const res = await fetch(`${baseUrl}${path}`, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' }, signal: abort.signal });
  const conn: SseConnection = {
    status: res.status,
    headers: res.headers,
    events: [],
    ended: false,
    finished: Promise.resolve(),
    close: () => abort.abort(),
    comments: () => conn.events.flatMap((e) => e.comments),
    reply: async () => {
      const text = await res.text();
      return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined, text };
    },
  };
  if (res.status !== 200 || !res.body) return conn;
  const body = res.body.pipeThrough(new TextDecoderStream());
  conn.finished = (async () => {
    let pending = '';
    try {
      for await (const chunk of body) {
        pending += chunk;
        const parts = pending.split('\n\n');
        pending = parts.pop() ?? '';
        conn.events.push(...parts.map(toEvent));
      }
      conn.ended = true;
    } catch {
      // closed by us
    }
  })();
  return conn;
}
