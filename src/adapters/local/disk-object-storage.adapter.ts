import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, resolve, sep } from 'node:path';
import { ObjectStorage, StoredObject } from '../../ports/object-storage.port';

/** Development storage: files under a folder, served back by the app at `<baseUrl>/files/<key>`. */
export class DiskObjectStorage extends ObjectStorage {
  /** Resolved once: a later `chdir` cannot move it, and roots like `.` or `uploads/` compare correctly. */
  private readonly root: string;

  constructor(
    root: string,
    private readonly baseUrl: string,
  ) {
    super();
    this.root = resolve(root);
  }

  pathFor(key: string): string {
    const path = resolve(this.root, key);
    const inside = this.root.endsWith(sep) ? this.root : this.root + sep;
    if (!path.startsWith(inside)) throw new Error(`object key escapes the storage root: ${key}`);
    return path;
  }

  async put(key: string, body: Buffer, contentType: string): Promise<StoredObject> {
    const path = this.pathFor(key);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, body);
    return { key, contentType, size: body.length };
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathFor(key), { force: true });
  }

  async publicUrl(key: string): Promise<string> {
    return `${this.baseUrl.replace(/\/$/, '')}/files/${key}`;
  }
}
