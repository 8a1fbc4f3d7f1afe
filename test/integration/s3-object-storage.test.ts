import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingHttpHeaders, IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { S3ObjectStorage, S3ObjectStorageOptions } from '../../src/adapters/aws/s3-object-storage.adapter';
import { Clock } from '../../src/ports/clock.port';
import { freePort, waitFor } from '../support/ports';

/** The slice of s3rver (CommonJS, untyped) these tests use. */
interface S3rverServer {
  run(): Promise<unknown>;
  close(): Promise<void>;
  httpServer: Server;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver') as new (options: Record<string, unknown>) => S3rverServer;

const BUCKET = 'tickr-images';
const REGION = 'eu-west-1';
/** The one key pair s3rver knows; any other access key id is refused as InvalidAccessKeyId. */
const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  socket: Socket;
}

class FixedClock extends Clock {
  constructor(private readonly at: Date) {
    super();
  }
  now(): Date {
    return this.at;
  }
}

let directory: string;
let server: S3rverServer;
let endpoint: string;
/** Every request as it reached the server, headers and all: what the adapter really sent. */
let seen: SeenRequest[] = [];
let reader: S3Client;
const opened: S3ObjectStorage[] = [];

function storage(options: Partial<S3ObjectStorageOptions> = {}): S3ObjectStorage {
  const adapter = new S3ObjectStorage({ bucket: BUCKET, region: REGION, endpoint, clientConfig: { credentials }, ...options });
  opened.push(adapter);
  return adapter;
}

function putsOf(key: string): SeenRequest[] {
  return seen.filter((r) => r.method === 'PUT' && new URL(r.url, endpoint).pathname === `/${BUCKET}/${key}`);
}

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'tickr-s3rver-'));
  const port = await freePort();
  server = new S3rver({ address: '127.0.0.1', port, directory, silent: true, configureBuckets: [{ name: BUCKET }] });
  await server.run();
  server.httpServer.on('request', (req: IncomingMessage) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, socket: req.socket });
  });
  // Longer than any test waits, so only the client can close an idle keep-alive connection.
  server.httpServer.keepAliveTimeout = 60_000;
  // A host name, not an IP: the SDK would address the bucket as `<bucket>.localhost` without forcePathStyle.
  endpoint = `http://localhost:${port}`;
  reader = new S3Client({ region: REGION, endpoint, forcePathStyle: true, credentials });
});

afterAll(async () => {
  reader?.destroy();
  for (const adapter of opened) adapter.onApplicationShutdown();
  await server?.close();
  await rm(directory, { recursive: true, force: true });
});

beforeEach(() => {
  seen = [];
});

const newKey = (name = 'cover.jpg') => `events/${randomUUID()}/${name}`;

describe('S3ObjectStorage against s3rver (a local server speaking the S3 protocol)', () => {
  describe('put', () => {
    it('stores the bytes with their content type and a cache-forever Cache-Control', async () => {
      const key = newKey();
      const body = randomBytes(4096);
      const stored = await storage().put(key, body, 'image/jpeg');
      expect(stored).toEqual({ key, contentType: 'image/jpeg', size: 4096 });

      const object = await reader.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      expect(Buffer.from(await object.Body!.transformToByteArray())).toEqual(body);
      expect(object.ContentType).toBe('image/jpeg');
      expect(object.CacheControl).toBe('public, max-age=31536000, immutable');
      expect(object.ContentLength).toBe(4096);
    });

    it('stores the largest upload the API accepts (5 MiB) intact, in one request', async () => {
      const key = newKey('poster.png');
      const body = randomBytes(5 * 1024 * 1024);
      await storage().put(key, body, 'image/png');

      const head = await reader.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
      expect(head).toMatchObject({ ContentLength: body.length, ContentType: 'image/png' });
      const object = await reader.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      expect(Buffer.from(await object.Body!.transformToByteArray()).equals(body)).toBe(true);
      expect(putsOf(key)).toHaveLength(1);
      expect(putsOf(key)[0].headers['content-length']).toBe(String(body.length));
    });

    it('replaces an object put again under the same key', async () => {
      const key = newKey();
      const adapter = storage();
      await adapter.put(key, Buffer.from('first version, longer'), 'image/png');
      await adapter.put(key, Buffer.from('second'), 'image/webp');

      const object = await reader.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      expect(await object.Body!.transformToString()).toBe('second');
      expect(object.ContentType).toBe('image/webp');
    });

    it('asks for SSE-S3 (AES256) encryption on every put, with no KMS key', async () => {
      const key = newKey();
      await storage().put(key, Buffer.from('x'), 'image/jpeg');

      const [put] = putsOf(key);
      expect(put.headers['x-amz-server-side-encryption']).toBe('AES256');
      expect(put.headers['x-amz-server-side-encryption-aws-kms-key-id']).toBeUndefined();
    });

    it('asks for SSE-KMS with the configured key when there is one', async () => {
      const key = newKey();
      const kmsKeyId = 'arn:aws:kms:eu-west-1:123456789012:key/0d4b4f5e-1111-2222-3333-444455556666';
      await storage({ kmsKeyId }).put(key, Buffer.from('x'), 'image/jpeg');

      const [put] = putsOf(key);
      expect(put.headers['x-amz-server-side-encryption']).toBe('aws:kms');
      expect(put.headers['x-amz-server-side-encryption-aws-kms-key-id']).toBe(kmsKeyId);
    });

    it('addresses the bucket by path on an endpoint override, as local S3 servers need', async () => {
      const key = newKey();
      await storage().put(key, Buffer.from('x'), 'image/jpeg');

      const [put] = putsOf(key);
      expect(put.headers.host).toBe(new URL(endpoint).host);
    });

    it('never sends an ACL: the bucket stays private', async () => {
      const key = newKey();
      await storage().put(key, Buffer.from('x'), 'image/jpeg');

      expect(putsOf(key)).toHaveLength(1);
      for (const request of seen) {
        expect(Object.keys(request.headers).filter((h) => /^x-amz-(acl|grant-)/.test(h))).toEqual([]);
        expect(new URL(request.url, endpoint).searchParams.has('acl')).toBe(false);
      }
    });
  });

  describe('delete', () => {
    it('removes the object', async () => {
      const key = newKey();
      const adapter = storage();
      await adapter.put(key, Buffer.from('x'), 'image/jpeg');
      await adapter.delete(key);

      await expect(reader.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))).rejects.toMatchObject({
        $metadata: { httpStatusCode: 404 },
      });
    });

    it('does not fail for a key that was never stored, or is already gone', async () => {
      const key = newKey();
      const adapter = storage();
      await expect(adapter.delete(key)).resolves.toBeUndefined();
      await adapter.put(key, Buffer.from('x'), 'image/jpeg');
      await adapter.delete(key);
      await expect(adapter.delete(key)).resolves.toBeUndefined();
    });
  });

  describe('publicUrl without a CDN: a presigned GET', () => {
    it('is a SigV4 query-string URL on the bucket, valid for the configured lifetime', async () => {
      const key = newKey();
      const url = new URL(await storage({ presignTtlSeconds: 1800 }).publicUrl(key));

      expect(`${url.origin}${url.pathname}`).toBe(`${endpoint}/${BUCKET}/${key}`);
      expect(url.searchParams.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
      expect(url.searchParams.get('X-Amz-Credential')).toMatch(new RegExp(`^S3RVER/\\d{8}/${REGION}/s3/aws4_request$`));
      expect(url.searchParams.get('X-Amz-Expires')).toBe('1800');
      expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    });

    it('lasts an hour unless configured otherwise', async () => {
      const url = new URL(await storage().publicUrl(newKey()));
      expect(url.searchParams.get('X-Amz-Expires')).toBe('3600');
    });

    it('fetched with plain fetch, returns the bytes and their headers', async () => {
      const key = newKey();
      const body = randomBytes(2048);
      const adapter = storage();
      await adapter.put(key, body, 'image/jpeg');

      const response = await fetch(await adapter.publicUrl(key));
      expect(response.status).toBe(200);
      expect(Buffer.from(await response.arrayBuffer())).toEqual(body);
      expect(response.headers.get('content-type')).toBe('image/jpeg');
      expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    });

    it('stops working once its lifetime is over (signed by the clock, so no sleeping)', async () => {
      const key = newKey();
      await storage().put(key, Buffer.from('image'), 'image/jpeg');
      const ttl = 60;
      const signedAt = (secondsAgo: number) =>
        storage({ presignTtlSeconds: ttl, clock: new FixedClock(new Date(Date.now() - secondsAgo * 1000)) }).publicUrl(key);

      const stillValid = await fetch(await signedAt(ttl - 20));
      expect(stillValid.status).toBe(200);
      expect(await stillValid.text()).toBe('image');

      const expired = await fetch(await signedAt(ttl + 20));
      expect(expired.status).toBe(403);
      const problem = await expired.text();
      expect(problem).toContain('<Code>AccessDenied</Code>');
      expect(problem).toContain('Request has expired');
    });
  });

  describe('publicUrl with a CDN', () => {
    it('is <cdn>/<key>, unsigned, whatever the presign settings', async () => {
      const key = newKey();
      const adapter = storage({ cdnBaseUrl: 'https://images.tickr.example/', presignTtlSeconds: 60 });
      const url = await adapter.publicUrl(key);

      expect(url).toBe(`https://images.tickr.example/${key}`);
      expect(url).not.toMatch(/X-Amz-|Signature|\?/);
      expect(seen).toEqual([]);
    });

    it('percent-encodes each segment of an unusual key but keeps its slashes', async () => {
      const url = await storage({ cdnBaseUrl: 'https://cdn.example/images' }).publicUrl('events/7/summer night #1.jpg');
      expect(url).toBe('https://cdn.example/images/events/7/summer%20night%20%231.jpg');
    });
  });

  describe('shutdown', () => {
    it('closes its keep-alive connection to S3, so it cannot hold the process open', async () => {
      const key = newKey();
      const adapter = storage();
      await adapter.put(key, Buffer.from('x'), 'image/jpeg');
      const { socket } = putsOf(key)[0];
      await new Promise((r) => setTimeout(r, 50));
      expect(socket.destroyed).toBe(false);

      adapter.onApplicationShutdown();
      await waitFor(async () => (socket.destroyed ? true : undefined), 'the adapter to close its connection', 2_000);
    });
  });
});
