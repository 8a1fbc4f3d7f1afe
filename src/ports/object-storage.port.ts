import type { Readable } from 'node:stream';

export interface StoredObject {
  key: string;
  contentType: string;
  size: number;
}

/** Where event images live: S3 in production, a local folder in development. */
export abstract class ObjectStorage {
  abstract put(key: string, body: Buffer | Readable, contentType: string): Promise<StoredObject>;
  abstract delete(key: string): Promise<void>;
  /** A URL a browser can fetch the object from (CDN, presigned GET, or the app itself locally). */
  abstract publicUrl(key: string): Promise<string>;
}
