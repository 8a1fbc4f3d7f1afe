import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default async function globalTeardown(): Promise<void> {
  await globalThis.__TICKR_HARNESS__?.stop();
  globalThis.__TICKR_HARNESS__ = undefined;
  // Local image uploads of every test app (see baseEnv).
  rmSync(join(tmpdir(), 'tickr-test-uploads'), { recursive: true, force: true });
}
