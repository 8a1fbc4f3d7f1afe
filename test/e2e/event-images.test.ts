import { randomUUID } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { call, register, Reply, Session } from '../support/http';
import { startTestApp, TestApp, uniqueEmail } from '../support/app';
import { CHEAP_HASHING, expectFieldError, expectProblem } from '../support/problems';

/**
 * API.md, "Events (catalog)": `PUT /v1/events/{id}/image`, with real bytes over real HTTP, stored by
 * the local disk adapter and served back by the app at `<PUBLIC_BASE_URL>/files/events/<id>/<uuid>.<ext>`.
 */
const MIB = 1024 * 1024;
const MAX = 5 * MIB;

// Tiny buffers that carry each format's magic number followed by a little payload.
const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10]), Buffer.from('JFIF\0 jpeg-body'), Buffer.from([0xff, 0xd9])]);
const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from([0, 0, 0, 13]), Buffer.from('IHDR png-body')]);
const WEBP = Buffer.concat([Buffer.from('RIFF'), Buffer.from([0x24, 0, 0, 0]), Buffer.from('WEBPVP8 webp-body')]);
const GIF = Buffer.from('GIF89a\x01\x00\x01\x00\x80\x00\x00', 'latin1');
const HTML = Buffer.from('<!doctype html><html><script>alert(document.cookie)</script></html>');
const WAV = Buffer.concat([Buffer.from('RIFF'), Buffer.from([0x24, 0, 0, 0]), Buffer.from('WAVEfmt ')]);

const EXT = { 'image/jpeg': 'jpg', 'image/png': 'png', 'image/webp': 'webp' } as const;

/** A buffer of exactly `size` bytes that starts with a valid signature. */
function sized(signature: Buffer, size: number): Buffer {
  const bytes = Buffer.alloc(size, 0x5a);
  signature.copy(bytes, 0);
  return bytes;
}

interface Raw {
  status: number;
  headers: Headers;
  bytes: Buffer;
  body: any;
}

async function toRaw(res: Response): Promise<Raw> {
  const bytes = Buffer.from(await res.arrayBuffer());
  let body: unknown;
  try {
    body = JSON.parse(bytes.toString('utf8'));
  } catch {
    body = undefined;
  }
  return { status: res.status, headers: res.headers, bytes, body };
}

/** The shape `expectProblem` wants. */
const asReply = (r: Raw): Reply => ({ status: r.status, headers: r.headers, body: r.body, text: r.bytes.toString('utf8') });

async function listFiles(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    return entries
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name))
      .sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

describe('event images (PUT /v1/events/{id}/image)', () => {
  let t: TestApp;
  let organiser: Session;
  let stranger: Session;
  let buyer: Session;

  beforeAll(async () => {
    t = await startTestApp(CHEAP_HASHING);
    [organiser, stranger, buyer] = await Promise.all([
      register(t.url, { email: uniqueEmail('img-org'), role: 'organiser' }),
      register(t.url, { email: uniqueEmail('img-other'), role: 'organiser' }),
      register(t.url, { email: uniqueEmail('img-buyer'), role: 'buyer' }),
    ]);
  });
  afterAll(async () => {
    await t?.close();
    // This app's own upload folder (named after its throw-away database).
    if (t) await rm(t.config.storage.localDir, { recursive: true, force: true });
  });

  const uploads = () => t.config.storage.localDir;
  const eventDir = (eventId: string) => join(uploads(), 'events', eventId);

  async function createEvent(token = organiser.accessToken): Promise<string> {
    const startsAt = new Date(Date.now() + 30 * 86_400_000);
    const res = await call(t.url, 'POST', '/v1/events', {
      token,
      body: {
        title: `Image test ${randomUUID().slice(0, 8)}`,
        category: 'concert',
        venue: { name: 'Hall', city: 'Tunis', address: '1 Rue de Marseille' },
        startsAt: startsAt.toISOString(),
        endsAt: new Date(startsAt.getTime() + 3 * 3_600_000).toISOString(),
        timezone: 'Africa/Tunis',
        currency: 'TND',
      },
    });
    expect(res.status).toBe(201);
    return res.body.id as string;
  }

  async function publish(eventId: string): Promise<void> {
    const tt = await call(t.url, 'POST', `/v1/events/${eventId}/ticket-types`, {
      token: organiser.accessToken,
      body: { name: 'Standard', price: 20000, capacity: 100 },
    });
    expect(tt.status).toBe(201);
    expect((await call(t.url, 'POST', `/v1/events/${eventId}/publish`, { token: organiser.accessToken })).status).toBe(200);
  }

  function put(
    eventId: string,
    body: RequestInit['body'],
    options: { contentType?: string; token?: string | null; headers?: Record<string, string> } = {},
  ): Promise<Raw> {
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    const token = options.token === undefined ? organiser.accessToken : options.token;
    if (token) headers.authorization = `Bearer ${token}`;
    if (options.contentType) headers['content-type'] = options.contentType;
    return fetch(`${t.url}/v1/events/${eventId}/image`, { method: 'PUT', headers, body }).then(toRaw);
  }

  function putMultipart(eventId: string, bytes: Buffer, field = 'file', type = 'image/png', token = organiser.accessToken): Promise<Raw> {
    const form = new FormData();
    form.append(field, new Blob([bytes], { type }), 'upload.bin');
    return fetch(`${t.url}/v1/events/${eventId}/image`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}` },
      body: form,
    }).then(toRaw);
  }

  /** A body streamed in chunks, sent with Transfer-Encoding: chunked (no Content-Length). */
  function putStreamed(eventId: string, bytes: Buffer, contentType = 'image/jpeg'): Promise<Raw> {
    const chunk = 64 * 1024;
    let offset = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (offset >= bytes.length) return controller.close();
        controller.enqueue(new Uint8Array(bytes.subarray(offset, offset + chunk)));
        offset += chunk;
      },
    });
    return fetch(`${t.url}/v1/events/${eventId}/image`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${organiser.accessToken}`, 'content-type': contentType },
      body: stream,
      duplex: 'half',
    } as RequestInit).then(toRaw);
  }

  async function imageUrlOf(eventId: string): Promise<string | null> {
    const res = await call(t.url, 'GET', `/v1/events/${eventId}`, { token: organiser.accessToken });
    expect(res.status).toBe(200);
    return res.body.imageUrl as string | null;
  }

  function expectImageUrl(url: unknown, eventId: string, type: keyof typeof EXT): void {
    const pattern = new RegExp(
      `^${t.config.storage.publicBaseUrl ?? t.url}/files/events/${eventId}/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\\.${EXT[type]}$`,
    );
    expect(url).toMatch(pattern);
  }

  async function expectServed(url: string, bytes: Buffer, type: string): Promise<void> {
    const res = await fetch(url).then(toRaw);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(type);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const cacheControl = (res.headers.get('cache-control') ?? '').split(',').map((d) => d.trim()).sort();
    expect(cacheControl).toEqual(['immutable', 'max-age=31536000', 'public']);
    expect(res.bytes.length).toBe(bytes.length);
    expect(res.bytes.equals(bytes)).toBe(true);
  }

  /** The file the URL names, on disk, holding exactly these bytes. */
  async function expectStored(url: string, bytes: Buffer): Promise<void> {
    const key = new URL(url).pathname.replace(/^\/files\//, '');
    expect((await readFile(join(uploads(), key))).equals(bytes)).toBe(true);
  }

  describe('raw body', () => {
    it.each([
      ['image/jpeg', JPEG],
      ['image/png', PNG],
      ['image/webp', WEBP],
    ] as const)('%s is accepted, stored and served back byte for byte', async (type, bytes) => {
      const eventId = await createEvent();
      const res = await put(eventId, bytes, { contentType: type });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(Object.keys(res.body)).toEqual(['imageUrl']);
      expectImageUrl(res.body.imageUrl, eventId, type);

      await expectServed(res.body.imageUrl, bytes, type);
      await expectStored(res.body.imageUrl, bytes);
      expect(await listFiles(eventDir(eventId))).toHaveLength(1);
      expect(await imageUrlOf(eventId)).toBe(res.body.imageUrl);
    });

    it.each([
      ['PNG sent as image/jpeg', PNG, 'image/jpeg', 'image/png'],
      ['JPEG sent as image/webp', JPEG, 'image/webp', 'image/jpeg'],
      ['WebP sent as image/png', WEBP, 'image/png', 'image/webp'],
      ['JPEG sent as application/octet-stream', JPEG, 'application/octet-stream', 'image/jpeg'],
      ['PNG sent as image/gif', PNG, 'image/gif', 'image/png'],
    ] as const)('the type comes from the bytes, not the header: %s', async (_, bytes, claimed, actual) => {
      const eventId = await createEvent();
      const res = await put(eventId, bytes, { contentType: claimed });
      expect(res.status).toBe(200);
      expectImageUrl(res.body.imageUrl, eventId, actual);
      await expectServed(res.body.imageUrl, bytes, actual);
    });

    it('a published event shows the image to anyone', async () => {
      const eventId = await createEvent();
      await publish(eventId);
      const res = await put(eventId, PNG, { contentType: 'image/png' });
      expect(res.status).toBe(200);
      const anonymous = await call(t.url, 'GET', `/v1/events/${eventId}`);
      expect(anonymous.status).toBe(200);
      expect(anonymous.body.imageUrl).toBe(res.body.imageUrl);
      await expectServed(anonymous.body.imageUrl, PNG, 'image/png');
    });
  });

  describe('content that is not a JPEG, PNG or WebP → 415 UNSUPPORTED_MEDIA_TYPE, nothing stored', () => {
    it.each([
      ['GIF as image/gif', GIF, 'image/gif'],
      ['GIF as image/png', GIF, 'image/png'],
      ['HTML as image/jpeg', HTML, 'image/jpeg'],
      ['HTML as image/png', HTML, 'image/png'],
      ['a RIFF WAVE file as image/webp', WAV, 'image/webp'],
      ['a truncated PNG signature', PNG.subarray(0, 7), 'image/png'],
      ['two JPEG bytes', JPEG.subarray(0, 2), 'image/jpeg'],
      ['an empty body as image/png', Buffer.alloc(0), 'image/png'],
      ['HTML as application/octet-stream', HTML, 'application/octet-stream'],
    ] as const)('%s', async (_, bytes, contentType) => {
      const eventId = await createEvent();
      const first = await put(eventId, JPEG, { contentType: 'image/jpeg' });
      expect(first.status).toBe(200);
      const before = await listFiles(uploads());

      const res = await put(eventId, bytes, { contentType });
      expectProblem(asReply(res), 415, 'UNSUPPORTED_MEDIA_TYPE');

      expect(await imageUrlOf(eventId)).toBe(first.body.imageUrl);
      expect(await listFiles(uploads())).toEqual(before);
      await expectServed(first.body.imageUrl, JPEG, 'image/jpeg');
    });

    it('a body with neither content nor Content-Type', async () => {
      const eventId = await createEvent();
      const res = await put(eventId, undefined);
      expectProblem(asReply(res), 415, 'UNSUPPORTED_MEDIA_TYPE');
      expect(await imageUrlOf(eventId)).toBeNull();
      expect(await listFiles(eventDir(eventId))).toEqual([]);
    });

    it('HTML sent as text/html is refused with 415, nothing stored', async () => {
      const eventId = await createEvent();
      const res = await put(eventId, HTML, { contentType: 'text/html' });
      expectProblem(asReply(res), 415);
      expect(await imageUrlOf(eventId)).toBeNull();
      expect(await listFiles(eventDir(eventId))).toEqual([]);
    });

    it('image Content-Types are refused (415) on JSON routes such as POST /v1/events', async () => {
      for (const contentType of ['image/png', 'image/jpeg', 'application/octet-stream']) {
        const res = await fetch(`${t.url}/v1/events`, {
          method: 'POST',
          headers: { authorization: `Bearer ${organiser.accessToken}`, 'content-type': contentType },
          body: PNG,
        }).then(toRaw);
        expectProblem(asReply(res), 415);
      }
      const own = await call(t.url, 'GET', '/v1/organiser/events?limit=100', { token: organiser.accessToken });
      expect(own.status).toBe(200);
    });
  });

  describe('multipart/form-data', () => {
    it.each([
      ['image/png', PNG],
      ['image/jpeg', JPEG],
      ['image/webp', WEBP],
    ] as const)('field `file` with %s is accepted', async (type, bytes) => {
      const eventId = await createEvent();
      const res = await putMultipart(eventId, bytes, 'file', type);
      expect(res.status).toBe(200);
      expectImageUrl(res.body.imageUrl, eventId, type);
      await expectServed(res.body.imageUrl, bytes, type);
      expect(await imageUrlOf(eventId)).toBe(res.body.imageUrl);
    });

    it('the part type is judged by its bytes too (PNG bytes labelled image/jpeg → image/png)', async () => {
      const eventId = await createEvent();
      const res = await putMultipart(eventId, PNG, 'file', 'image/jpeg');
      expect(res.status).toBe(200);
      expectImageUrl(res.body.imageUrl, eventId, 'image/png');
      await expectServed(res.body.imageUrl, PNG, 'image/png');
    });

    it('another field name → 400 VALIDATION_FAILED naming `file`, nothing stored', async () => {
      const eventId = await createEvent();
      const res = await putMultipart(eventId, PNG, 'image');
      expectFieldError(asReply(res), 'file');
      expect(await imageUrlOf(eventId)).toBeNull();
      expect(await listFiles(eventDir(eventId))).toEqual([]);
    });

    it('a GIF in the `file` field → 415', async () => {
      const eventId = await createEvent();
      const res = await putMultipart(eventId, GIF, 'file', 'image/png');
      expectProblem(asReply(res), 415, 'UNSUPPORTED_MEDIA_TYPE');
      expect(await listFiles(eventDir(eventId))).toEqual([]);
    });

    it('exactly 5 MiB is accepted; 5 MiB + 1 → 413 PAYLOAD_TOO_LARGE', async () => {
      const eventId = await createEvent();
      const exact = sized(PNG, MAX);
      const ok = await putMultipart(eventId, exact, 'file', 'image/png');
      expect(ok.status).toBe(200);
      await expectServed(ok.body.imageUrl, exact, 'image/png');

      const before = await listFiles(uploads());
      const tooBig = await putMultipart(eventId, sized(PNG, MAX + 1), 'file', 'image/png');
      expectProblem(asReply(tooBig), 413, 'PAYLOAD_TOO_LARGE');
      expect(await imageUrlOf(eventId)).toBe(ok.body.imageUrl);
      expect(await listFiles(uploads())).toEqual(before);
    });
  });

  describe('size limit: 5 MiB (5 242 880 bytes)', () => {
    it('exactly 5 MiB is accepted and served back whole', async () => {
      const eventId = await createEvent();
      const bytes = sized(JPEG, MAX);
      const res = await put(eventId, bytes, { contentType: 'image/jpeg' });
      expect(res.status).toBe(200);
      await expectServed(res.body.imageUrl, bytes, 'image/jpeg');
    });

    it('exactly 5 MiB streamed without Content-Length is accepted', async () => {
      const eventId = await createEvent();
      const bytes = sized(WEBP, MAX);
      const res = await putStreamed(eventId, bytes, 'image/webp');
      expect(res.status).toBe(200);
      await expectServed(res.body.imageUrl, bytes, 'image/webp');
    });

    it('5 MiB + 1 with Content-Length → 413 PAYLOAD_TOO_LARGE; imageUrl unchanged, no new file', async () => {
      const eventId = await createEvent();
      const first = await put(eventId, PNG, { contentType: 'image/png' });
      expect(first.status).toBe(200);
      const before = await listFiles(uploads());

      const res = await put(eventId, sized(JPEG, MAX + 1), { contentType: 'image/jpeg' });
      expectProblem(asReply(res), 413, 'PAYLOAD_TOO_LARGE');

      expect(await imageUrlOf(eventId)).toBe(first.body.imageUrl);
      expect(await listFiles(uploads())).toEqual(before);
      await expectServed(first.body.imageUrl, PNG, 'image/png');
    });

    it('5 MiB + 1 streamed without Content-Length → 413 PAYLOAD_TOO_LARGE; imageUrl unchanged, no new file', async () => {
      const eventId = await createEvent();
      const first = await put(eventId, PNG, { contentType: 'image/png' });
      expect(first.status).toBe(200);
      const before = await listFiles(uploads());

      const res = await putStreamed(eventId, sized(JPEG, MAX + 1), 'image/jpeg');
      expectProblem(asReply(res), 413, 'PAYLOAD_TOO_LARGE');

      expect(await imageUrlOf(eventId)).toBe(first.body.imageUrl);
      expect(await listFiles(uploads())).toEqual(before);
    });

    it('the app still answers on new connections after refusing an oversized stream', async () => {
      const eventId = await createEvent();
      await putStreamed(eventId, sized(JPEG, 2 * MAX), 'image/jpeg').catch(() => undefined);
      const res = await put(eventId, JPEG, { contentType: 'image/jpeg' });
      expect(res.status).toBe(200);
    });
  });

  describe('replacing an image', () => {
    it('the new URL replaces the old one and the old object is deleted (its URL 404s)', async () => {
      const eventId = await createEvent();
      const first = await put(eventId, JPEG, { contentType: 'image/jpeg' });
      expect(first.status).toBe(200);
      await expectServed(first.body.imageUrl, JPEG, 'image/jpeg');

      const second = await put(eventId, PNG, { contentType: 'image/png' });
      expect(second.status).toBe(200);
      expect(second.body.imageUrl).not.toBe(first.body.imageUrl);
      expect(await imageUrlOf(eventId)).toBe(second.body.imageUrl);

      expect((await fetch(first.body.imageUrl)).status).toBe(404);
      await expectServed(second.body.imageUrl, PNG, 'image/png');
      const files = await listFiles(eventDir(eventId));
      expect(files).toHaveLength(1);
      expect(files[0].endsWith('.png')).toBe(true);

      // Same type again: a new key every time, never an overwrite of a cached URL.
      const third = await put(eventId, sized(PNG, 64), { contentType: 'image/png' });
      expect(third.status).toBe(200);
      expect(third.body.imageUrl).not.toBe(second.body.imageUrl);
      expect((await fetch(second.body.imageUrl)).status).toBe(404);
      expect(await listFiles(eventDir(eventId))).toHaveLength(1);
    });
  });

  describe('who may upload', () => {
    it("another organiser's upload → 404 NOT_FOUND, nothing stored, the image unchanged", async () => {
      const eventId = await createEvent();
      const mine = await put(eventId, JPEG, { contentType: 'image/jpeg' });
      expect(mine.status).toBe(200);
      const before = await listFiles(uploads());

      const raw = await put(eventId, PNG, { contentType: 'image/png', token: stranger.accessToken });
      expectProblem(asReply(raw), 404, 'NOT_FOUND');
      const multipart = await putMultipart(eventId, PNG, 'file', 'image/png', stranger.accessToken);
      expectProblem(asReply(multipart), 404, 'NOT_FOUND');

      expect(await listFiles(uploads())).toEqual(before);
      expect(await imageUrlOf(eventId)).toBe(mine.body.imageUrl);
    });

    it("another organiser's event, published, is still 404 for them", async () => {
      const eventId = await createEvent();
      await publish(eventId);
      const res = await put(eventId, PNG, { contentType: 'image/png', token: stranger.accessToken });
      expectProblem(asReply(res), 404, 'NOT_FOUND');
      expect(await listFiles(eventDir(eventId))).toEqual([]);
    });

    it('an event that does not exist → 404 NOT_FOUND; a malformed id → 400', async () => {
      const missing = randomUUID();
      expectProblem(asReply(await put(missing, PNG, { contentType: 'image/png' })), 404, 'NOT_FOUND');
      expect(await listFiles(eventDir(missing))).toEqual([]);
      expectProblem(asReply(await put('not-a-uuid', PNG, { contentType: 'image/png' })), 400, 'VALIDATION_FAILED');
    });

    it('a buyer → 403 FORBIDDEN, nothing stored', async () => {
      const eventId = await createEvent();
      const res = await put(eventId, PNG, { contentType: 'image/png', token: buyer.accessToken });
      expectProblem(asReply(res), 403, 'FORBIDDEN');
      expect(await listFiles(eventDir(eventId))).toEqual([]);
      expect(await imageUrlOf(eventId)).toBeNull();
    });

    it('no token → 401 UNAUTHENTICATED; a bad token → 401', async () => {
      const eventId = await createEvent();
      expectProblem(asReply(await put(eventId, PNG, { contentType: 'image/png', token: null })), 401, 'UNAUTHENTICATED');
      expectProblem(asReply(await put(eventId, PNG, { contentType: 'image/png', token: 'not.a.jwt' })), 401, 'UNAUTHENTICATED');
      expect(await listFiles(eventDir(eventId))).toEqual([]);
    });

    it('a cancelled event → 409 EVENT_CANCELLED, the image unchanged and nothing stored', async () => {
      const eventId = await createEvent();
      await publish(eventId);
      const first = await put(eventId, WEBP, { contentType: 'image/webp' });
      expect(first.status).toBe(200);
      expect((await call(t.url, 'POST', `/v1/events/${eventId}/cancel`, { token: organiser.accessToken })).status).toBe(200);
      const before = await listFiles(uploads());

      const raw = await put(eventId, PNG, { contentType: 'image/png' });
      expectProblem(asReply(raw), 409, 'EVENT_CANCELLED');
      const multipart = await putMultipart(eventId, PNG);
      expectProblem(asReply(multipart), 409, 'EVENT_CANCELLED');

      expect(await listFiles(uploads())).toEqual(before);
      expect(await imageUrlOf(eventId)).toBe(first.body.imageUrl);
      await expectServed(first.body.imageUrl, WEBP, 'image/webp');
    });
  });

  describe('served files', () => {
    it('an unknown key under /files is 404, and no directory is listed', async () => {
      const eventId = await createEvent();
      const res = await put(eventId, PNG, { contentType: 'image/png' });
      expect(res.status).toBe(200);
      expect((await fetch(`${t.url}/files/events/${eventId}/${randomUUID()}.png`)).status).toBe(404);
      const listing = await fetch(`${t.url}/files/events/${eventId}/`);
      expect([403, 404]).toContain(listing.status);
      expect(await listing.text()).not.toContain('.png');
    });
  });
});
