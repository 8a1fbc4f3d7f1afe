export interface StoredObject {
  key: string;
  contentType: string;
  size: number;
}

/** Where event images live: S3 in production, a local folder in development. */
export abstract class ObjectStorage {
  /**
   * Stores `body` under `key`, replacing what was there. Callers read uploads into a bounded buffer
   * (at most 5 MiB) first, so an oversized or aborted upload is refused before anything is stored
   * and adapters always know the length up front.
   */
  abstract put(key: string, body: Buffer, contentType: string): Promise<StoredObject>;
  /** Deleting a key that does not exist is not an error. */
  abstract delete(key: string): Promise<void>;
  /** A URL a browser can fetch the object from (CDN, presigned GET, or the app itself locally). */
  abstract publicUrl(key: string): Promise<string>;
}
