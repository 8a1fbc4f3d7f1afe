export default async function globalTeardown(): Promise<void> {
  await globalThis.__TICKR_HARNESS__?.stop();
}
