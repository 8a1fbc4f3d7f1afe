import type { Readable } from 'node:stream';
import { DomainError } from '../../common/domain-error';

export const IMAGE_TYPES = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/webp': 'webp',
} as const;
export type ImageType = keyof typeof IMAGE_TYPES;

export const MAX_IMAGE_BYTES = 5 * 1024 * 1024;

export class PayloadTooLargeError extends DomainError {
  constructor(limit = MAX_IMAGE_BYTES) {
    super('payload_too_large', 'PAYLOAD_TOO_LARGE', `An image may be at most ${limit / 1024 / 1024} MiB.`, {
      limitBytes: limit,
    });
  }
}

export class UnsupportedImageError extends DomainError {
  constructor() {
    super('unsupported_media_type', 'UNSUPPORTED_MEDIA_TYPE', 'The content is not a JPEG, PNG or WebP image.', {
      accepted: Object.keys(IMAGE_TYPES),
    });
  }
}

const startsWith = (bytes: Buffer, signature: number[], offset = 0) =>
  bytes.length >= offset + signature.length && signature.every((b, i) => bytes[offset + i] === b);

/**
 * The image type the bytes themselves declare (their magic numbers), whatever the client's
 * Content-Type says. Three signatures do not justify a dependency (`file-type` is ESM-only).
 */
export function sniffImageType(bytes: Buffer): ImageType | undefined {
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png';
  // RIFF <size> WEBP
  if (startsWith(bytes, [0x52, 0x49, 0x46, 0x46]) && startsWith(bytes, [0x57, 0x45, 0x42, 0x50], 8)) {
    return 'image/webp';
  }
  return undefined;
}

/**
 * Reads a body into memory, but never more than `limit` bytes of it: one byte past the limit the
 * stream is paused and left unread with a 413, so a 2 GB upload costs at most 5 MiB of memory. The
 * stream is not destroyed (that would cut the socket before the 413 is written): the caller drains
 * what follows, bounded (`drainRefusedBody`).
 */
export function readAtMost(stream: Readable, limit = MAX_IMAGE_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
    };
    const onData = (chunk: Buffer | string) => {
      const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      size += bytes.length;
      if (size > limit) {
        stop();
        stream.pause();
        reject(new PayloadTooLargeError(limit));
        return;
      }
      chunks.push(bytes);
    };
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (error: Error) => {
      stop();
      reject(error);
    };
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onError);
  });
}
