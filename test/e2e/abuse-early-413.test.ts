import { connect } from 'node:net';
import { call, register, Session } from '../support/http';
import { startTestApp, TestApp, uniqueEmail } from '../support/app';
import { sellableEvent } from '../support/orders';
import { CHEAP_HASHING, expectProblem } from '../support/problems';

/**
 * Issue 17, item 4: a body over the image limit is refused with a 413 the client can read, even a
 * client that sends the whole body before reading (Node's fetch, browsers). Without the drain, the
 * server closes with the body unread, the kernel answers the rest with a reset, and fetch rejects
 * ("fetch failed: other side closed" / ECONNRESET) instead of showing the 413.
 */
const MIB = 1024 * 1024;
const JPEG_SIGNATURE = Buffer.from([0xff, 0xd8, 0xff, 0xe0]);

function oversized(size: number): Buffer {
  const bytes = Buffer.alloc(size, 0x5a);
  JPEG_SIGNATURE.copy(bytes, 0);
  return bytes;
}

/** A body of `size` bytes streamed in chunks, without Content-Length (chunked). */
function streamOf(bytes: Buffer): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.subarray(offset, offset + 256 * 1024));
      offset += 256 * 1024;
    },
  });
}

describe('early 413 on oversized uploads (issue 17, item 4)', () => {
  let t: TestApp;
  let organiser: Session;
  let eventId: string;

  beforeAll(async () => {
    t = await startTestApp(CHEAP_HASHING);
    organiser = await register(t.url, { email: uniqueEmail('e413-org'), role: 'organiser' });
    ({ eventId } = await sellableEvent(t.url, organiser));
  });
  afterAll(async () => t?.close());

  const imageUrl = () => `${t.url}/v1/events/${eventId}/image`;

  async function fetchPut(body: RequestInit['body'], headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: any; text: string }> {
    const res = await fetch(imageUrl(), {
      method: 'PUT',
      headers: { authorization: `Bearer ${organiser.accessToken}`, 'content-type': 'image/jpeg', ...headers },
      body,
      duplex: 'half',
    } as RequestInit);
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: JSON.parse(text), text };
  }

  it('fetch sending 20 MiB with Content-Length reads 413 PAYLOAD_TOO_LARGE (no reset)', async () => {
    const res = await fetchPut(oversized(20 * MIB));
    expectProblem(res, 413, 'PAYLOAD_TOO_LARGE');
  });

  it('fetch streaming 20 MiB chunked (no Content-Length) reads 413 PAYLOAD_TOO_LARGE', async () => {
    const res = await fetchPut(streamOf(oversized(20 * MIB)) as unknown as RequestInit['body']);
    expectProblem(res, 413, 'PAYLOAD_TOO_LARGE');
  });

  it('fetch sending 20 MiB as multipart reads 413 PAYLOAD_TOO_LARGE', async () => {
    const form = new FormData();
    form.append('file', new Blob([oversized(20 * MIB)], { type: 'image/jpeg' }), 'big.jpg');
    const res = await fetch(imageUrl(), { method: 'PUT', headers: { authorization: `Bearer ${organiser.accessToken}` }, body: form });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { code: string }).code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('a raw socket that writes 20 MiB before reading gets the whole 413, and the connection stays usable', async () => {
    const body = oversized(20 * MIB);
    const { port } = new URL(t.url);
    const socket = connect(Number(port), '127.0.0.1');
    let received = '';
    let error: Error | undefined;
    socket.on('data', (c: Buffer) => (received += c.toString('latin1')));
    socket.on('error', (e) => (error = e));
    const until = async (pattern: RegExp) => {
      for (let i = 0; i < 200 && !pattern.test(received) && !error; i++) await new Promise((r) => setTimeout(r, 50));
    };
    socket.write(
      `PUT /v1/events/${eventId}/image HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${organiser.accessToken}\r\n` +
        `Content-Type: image/jpeg\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    await new Promise<void>((resolve) => socket.write(body, () => resolve()));
    await until(/"code":"PAYLOAD_TOO_LARGE"[^]*\}$/);
    expect(error).toBeUndefined();
    expect(received).toMatch(/^HTTP\/1\.1 413 /);
    // The same connection, after the drained body: the server read every byte of it, so it is in step.
    socket.write(`GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    await until(/HTTP\/1\.1 200 [^]*"status":"ok"/);
    socket.destroy();
    expect(error).toBeUndefined();
    expect(received).toMatch(/HTTP\/1\.1 200 [^]*"status":"ok"/);
  });

  it('a body far past the drain bound is still cut: the server stops reading and closes', async () => {
    const { port } = new URL(t.url);
    const outcome = await new Promise<{ text: string; sentMiB: number }>((resolve) => {
      const socket = connect(Number(port), '127.0.0.1');
      const chunks: Buffer[] = [];
      let sent = 0;
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        socket.destroy();
        resolve({ text: Buffer.concat(chunks).toString('latin1'), sentMiB: sent / MIB });
      };
      socket.on('data', (c) => chunks.push(c));
      socket.on('error', finish);
      socket.on('close', finish);
      socket.write(
        `PUT /v1/events/${eventId}/image HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${organiser.accessToken}\r\n` +
          `Content-Type: image/jpeg\r\nTransfer-Encoding: chunked\r\n\r\n`,
      );
      const chunk = Buffer.concat([Buffer.from(`${(MIB).toString(16)}\r\n`), oversized(MIB), Buffer.from('\r\n')]);
      const pump = () => {
        while (!done && sent < 2048 * MIB) {
          sent += MIB;
          if (!socket.write(chunk)) return void socket.once('drain', pump);
        }
      };
      pump();
    });
    expect(outcome.text).toMatch(/^HTTP\/1\.1 413 /);
    // The drain stops at 64 MiB; what the kernel buffers on either side comes on top.
    expect(outcome.sentMiB).toBeLessThan(256);
  });

  it('the app still answers after all of that', async () => {
    const res = await call(t.url, 'GET', `/v1/events/${eventId}`, { token: organiser.accessToken });
    expect(res.status).toBe(200);
  });
});
