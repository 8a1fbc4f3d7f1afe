import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Writes `body` as one JSON file, `<id>-<ms>-<random>.json`, in `dir`: a repeat of the same message
 * leaves a second file instead of overwriting the first. A file appears complete or not at all
 * (written under a dot-name ending in `.tmp`, then renamed): readers should list `*.json` only.
 */
export async function dropJsonFile(dir: string, id: string, body: unknown, signal?: AbortSignal): Promise<void> {
  await mkdir(dir, { recursive: true });
  const name = `${safeName(id)}-${Date.now()}-${randomBytes(4).toString('hex')}.json`;
  const temp = join(dir, `.${name}.tmp`);
  try {
    await writeFile(temp, JSON.stringify(body, null, 2), { flag: 'wx', signal });
    // The rename is the delivery: an abandoned send never delivers.
    signal?.throwIfAborted();
    await rename(temp, join(dir, name));
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** Message ids are UUIDs; anything else is kept readable but can never leave the folder. */
function safeName(id: string): string {
  return id.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 100);
}
