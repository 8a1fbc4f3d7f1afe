import { createWriteStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { dirname, join, normalize, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ObjectStorage, StoredObject } from '../../ports/object-storage.port';

/** Development storage: files under a folder, served back by the app at `<baseUrl>/files/<key>`. */
export class DiskObjectStorage extends ObjectStorage {
  constructor(
    private readonly root: string,
    private readonly baseUrl: string,
  ) {
    super();
  }

  pathFor(key: string): string {
    const path = normalize(join(this.root, key));
    if (!path.startsWith(normalize(this.root) + sep)) throw new Error(`object key escapes the storage root: ${key}`);
    return path;
  }

  async put(key: string, body: Buffer | Readable, contentType: string): Promise<StoredObject> {
    const path = this.pathFor(key);
    await mkdir(dirname(path), { recursive: true });
    await pipeline(Buffer.isBuffer(body) ? Readable.from([body]) : body, createWriteStream(path));
    return { key, contentType, size: (await stat(path)).size };
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathFor(key), { force: true });
  }

  async publicUrl(key: string): Promise<string> {
    return `${this.baseUrl.replace(/\/$/, '')}/files/${key}`;
  }
}
