import { request as httpRequest, ClientRequest, IncomingMessage } from 'node:http';
import { register, Session } from '../support/http';
import { startTestApp, TestApp, uniqueEmail } from '../support/app';
import { sellableEvent } from '../support/orders';
import { prng } from '../support/fuzz';
import { CHEAP_HASHING } from '../support/problems';

/**
 * Issue 17, item 3: concurrent image uploads per user are bounded (UPLOADS_CONCURRENT_PER_USER,
 * default 2), across instances, by leases in Redis. Without the bound every extra upload below is
 * accepted and held open like the others.
 */
const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(4096, 0x11)]);
const LIMIT = 2;

interface HeldUpload {
  /** Sends the rest of the body; resolves with the answer. */
  finish(): Promise<{ status: number; body: any }>;
  abort(): void;
  /** The answer, should the server send one before the body is complete. */
  answered: Promise<{ status: number; headers: IncomingMessage['headers']; body: any }>;
}

/** An upload whose body is sent in part and held open until `finish` or `abort`. */
function heldUpload(url: string, session: Session, eventId: string): HeldUpload {
  const { hostname, port } = new URL(url);
  let req!: ClientRequest;
  const answered = new Promise<{ status: number; headers: IncomingMessage['headers']; body: any }>((resolve, reject) => {
    req = httpRequest(
      {
        hostname,
        port,
        method: 'PUT',
        path: `/v1/events/${eventId}/image`,
        headers: { authorization: `Bearer ${session.accessToken}`, 'content-type': 'image/jpeg', 'content-length': JPEG.length },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(Buffer.concat(chunks).toString() || 'null') }));
      },
    );
    req.on('error', reject);
  });
  answered.catch(() => undefined);
  req.write(JPEG.subarray(0, 1024));
  return {
    answered,
    finish: () => {
      req.end(JPEG.subarray(1024));
      return answered;
    },
    abort: () => req.destroy(),
  };
}

async function fetchUpload(url: string, session: Session, eventId: string): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(`${url}/v1/events/${eventId}/image`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${session.accessToken}`, 'content-type': 'image/jpeg' },
    body: JPEG,
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('concurrent uploads per user (issue 17, item 3)', () => {
  let a: TestApp;
  let b: TestApp;
  let organiser: Session;
  let other: Session;
  let eventId: string;
  let otherEventId: string;

  beforeAll(async () => {
    // Two instances on one database and one Redis key space, as two ECS tasks.
    a = await startTestApp(CHEAP_HASHING);
    b = await startTestApp(CHEAP_HASHING, a.db);
    expect(a.config.rateLimit.uploadsConcurrentPerUser).toBe(LIMIT);
    organiser = await register(a.url, { email: uniqueEmail('up-org'), role: 'organiser' });
    other = await register(a.url, { email: uniqueEmail('up-other'), role: 'organiser' });
    ({ eventId } = await sellableEvent(a.url, organiser));
    ({ eventId: otherEventId } = await sellableEvent(a.url, other));
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  /** The leases Redis holds for the user (what every instance counts). */
  const leases = (user: Session) => a.redis!.zcard(`slots:uploads:${user.user.id}`);
  const leasesAre = (user: Session, n: number) => eventually(async () => (await leases(user)) === n, `${n} upload leases`);

  it('N+1 slow uploads at once across two instances: exactly N proceed, the extra gets 429 before its body is read; another user is unaffected', async () => {
    const held = [heldUpload(a.url, organiser, eventId), heldUpload(b.url, organiser, eventId), heldUpload(b.url, organiser, eventId)];
    // Exactly one of the three is answered while every body is still open: a 429 with Retry-After.
    const first = await Promise.race(held.map((h, i) => h.answered.then((res) => ({ i, res }))));
    expect(first.res.status).toBe(429);
    expect(first.res.body.code).toBe('RATE_LIMITED');
    expect(Number(first.res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(await leases(organiser)).toBe(LIMIT);
    const proceeding = held.filter((_, i) => i !== first.i);

    // A client that sends its whole body first (fetch) reads the 429 too, on either instance.
    for (const url of [a.url, b.url]) {
      const extra = await fetchUpload(url, organiser, eventId);
      expect(extra.status).toBe(429);
      expect(extra.body.code).toBe('RATE_LIMITED');
    }
    // Another user's uploads are their own budget.
    expect((await fetchUpload(a.url, other, otherEventId)).status).toBe(200);

    const done = await Promise.all(proceeding.map((h) => h.finish()));
    expect(done.map((r) => r.status)).toEqual([200, 200]);
    expect(done[0].body.imageUrl).toEqual(expect.any(String));
    await leasesAre(organiser, 0);
    expect((await fetchUpload(b.url, organiser, eventId)).status).toBe(200);
  });

  it('an aborted upload frees its slot', async () => {
    const held = [heldUpload(a.url, organiser, eventId), heldUpload(b.url, organiser, eventId)];
    await leasesAre(organiser, LIMIT);
    expect((await fetchUpload(a.url, organiser, eventId)).status).toBe(429);

    held[0].abort();
    await leasesAre(organiser, LIMIT - 1);
    expect((await fetchUpload(a.url, organiser, eventId)).status).toBe(200);
    expect((await held[1].finish()).status).toBe(200);
    await leasesAre(organiser, 0);
  });

  it('refused uploads (415, 413) give their slot back', async () => {
    for (let i = 0; i < LIMIT + 1; i++) {
      const res = await fetch(`${a.url}/v1/events/${eventId}/image`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${organiser.accessToken}`, 'content-type': 'image/jpeg' },
        body: i === LIMIT ? Buffer.alloc(6 * 1024 * 1024, 0xff) : Buffer.from('not an image'),
      });
      expect(res.status).toBe(i === LIMIT ? 413 : 415);
      await res.arrayBuffer();
    }
    await leasesAre(organiser, 0);
    expect((await fetchUpload(a.url, organiser, eventId)).status).toBe(200);
  });
  it('fuzzed uploads at once (odd types and sizes, some aborted) on both instances: never a 500, never more than N leases', async () => {
    const random = prng(Number(process.env.FUZZ_SEED ?? 20_261_202));
    const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)];
    const bodies: Array<[string, Buffer]> = [
      ['image/jpeg', JPEG],
      ['image/png', Buffer.from('not a png')],
      ['image/jpeg', Buffer.alloc(6 * 1024 * 1024, 0xff)],
      ['application/octet-stream', Buffer.alloc(0)],
      ['multipart/form-data; boundary=XYZ', Buffer.from('--XYZ\r\nContent-Disposition: form-data; name="file"\r\n\r\nunterminated')],
    ];
    let most = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        most = Math.max(most, await leases(organiser));
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    for (let round = 0; round < 4; round++) {
      const statuses = await Promise.all(
        Array.from({ length: 6 }, async () => {
          const url = pick([a.url, b.url]);
          if (random() < 0.2) {
            const held = heldUpload(url, organiser, eventId);
            await new Promise((r) => setTimeout(r, 20));
            held.abort();
            return held.answered.then((res) => res.status, () => 0);
          }
          const [type, body] = pick(bodies);
          const res = await fetch(`${url}/v1/events/${eventId}/image`, { method: 'PUT', headers: { authorization: `Bearer ${organiser.accessToken}`, 'content-type': type }, body });
          await res.arrayBuffer();
          return res.status;
        }),
      );
      for (const status of statuses) expect(status).toBeLessThan(500);
    }
    sampling = false;
    await sampler;
    expect(most).toBeLessThanOrEqual(LIMIT);
    await leasesAre(organiser, 0);
  }, 60_000);
});
