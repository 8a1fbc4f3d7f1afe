import { Readable } from 'node:stream';
import { MAX_IMAGE_BYTES, PayloadTooLargeError, readAtMost, sniffImageType } from './event-image';

const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46]);
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
const WEBP = Buffer.concat([Buffer.from('RIFF'), Buffer.from([0x24, 0, 0, 0]), Buffer.from('WEBPVP8 ')]);

describe('sniffImageType', () => {
  it('recognises JPEG, PNG and WebP by their magic numbers', () => {
    expect(sniffImageType(JPEG)).toBe('image/jpeg');
    expect(sniffImageType(PNG)).toBe('image/png');
    expect(sniffImageType(WEBP)).toBe('image/webp');
  });

  it('refuses everything else, however it is labelled', () => {
    const gif = Buffer.from('GIF89a......');
    const wav = Buffer.concat([Buffer.from('RIFF'), Buffer.from([0x24, 0, 0, 0]), Buffer.from('WAVEfmt ')]);
    const html = Buffer.from('<html><script>alert(1)</script>');
    for (const bytes of [gif, wav, html, Buffer.alloc(0), JPEG.subarray(0, 2), PNG.subarray(0, 7), WEBP.subarray(0, 11)]) {
      expect(sniffImageType(bytes)).toBeUndefined();
    }
  });
});

describe('readAtMost', () => {
  it('returns the whole body when it fits', async () => {
    const parts = [Buffer.alloc(1000, 1), Buffer.alloc(24, 2)];
    const body = await readAtMost(Readable.from(parts), 1024);
    expect(body.length).toBe(1024);
    expect(body[1023]).toBe(2);
  });

  it('passes stream errors on', async () => {
    const failing = new Readable({
      read() {
        this.destroy(new Error('client went away'));
      },
    });
    await expect(readAtMost(failing)).rejects.toThrow('client went away');
  });

  it('stops one byte past the limit without reading the rest', async () => {
    let produced = 0;
    const endless = new Readable({
      read() {
        produced += 64 * 1024;
        this.push(Buffer.alloc(64 * 1024));
      },
    });
    await expect(readAtMost(endless, MAX_IMAGE_BYTES)).rejects.toBeInstanceOf(PayloadTooLargeError);
    const producedAtRefusal = produced;
    await new Promise((r) => setTimeout(r, 50));
    // Paused and left alone: nothing more is pulled from it.
    expect(endless.isPaused()).toBe(true);
    expect(produced - producedAtRefusal).toBeLessThanOrEqual(64 * 1024 * 2);
    // The stream may read ahead a little (its highWaterMark), never the whole thing.
    expect(producedAtRefusal).toBeLessThan(MAX_IMAGE_BYTES + 1024 * 1024);
  });
});
