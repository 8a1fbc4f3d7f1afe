import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { OnApplicationShutdown } from '@nestjs/common';
import { Clock } from '../../ports/clock.port';
import { ObjectStorage, StoredObject } from '../../ports/object-storage.port';
import { SystemClock } from '../local/system-clock.adapter';

export interface S3ObjectStorageOptions {
  bucket: string;
  region: string;
  /** An S3-compatible server instead of AWS (LocalStack, a local test server). */
  endpoint?: string;
  /** CloudFront in front of the private bucket (origin access control). Without it, URLs are presigned. */
  cdnBaseUrl?: string;
  /** Lifetime of presigned GET URLs; 3600 s by default, at most 604800 (SigV4's limit). */
  presignTtlSeconds?: number;
  /** SSE-KMS with this key; SSE-S3 (AES256) without one. */
  kmsKeyId?: string;
  /** Signing time of presigned URLs, so expiry can be tested without sleeping. */
  clock?: Clock;
  /** Further SDK settings (credentials, retries…); on AWS the default credential chain serves. */
  clientConfig?: S3ClientConfig;
}

/**
 * Keys are random and never rewritten (a new image gets a new key), so whatever fetched an object
 * may keep it forever; replacing an image is visible at once because its URL changes.
 */
const IMMUTABLE = 'public, max-age=31536000, immutable';

/**
 * Event images in a private S3 bucket. No ACL is ever sent: the bucket is never public, and browsers
 * reach objects only through CloudFront (origin access control) or a presigned GET.
 */
export class S3ObjectStorage extends ObjectStorage implements OnApplicationShutdown {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly cdnBaseUrl?: string;
  private readonly presignTtlSeconds: number;
  private readonly kmsKeyId?: string;
  private readonly clock: Clock;

  constructor(options: S3ObjectStorageOptions) {
    super();
    this.bucket = options.bucket;
    this.cdnBaseUrl = options.cdnBaseUrl?.replace(/\/+$/, '');
    this.presignTtlSeconds = options.presignTtlSeconds ?? 3600;
    this.kmsKeyId = options.kmsKeyId;
    this.clock = options.clock ?? new SystemClock();
    this.client = new S3Client({
      ...options.clientConfig,
      region: options.region,
      // Local S3 servers answer on one host name, not on `<bucket>.<host>`.
      ...(options.endpoint ? { endpoint: options.endpoint, forcePathStyle: true } : {}),
    });
  }

  async put(key: string, body: Buffer, contentType: string): Promise<StoredObject> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: body,
        ContentType: contentType,
        ContentLength: body.length,
        CacheControl: IMMUTABLE,
        // Stated on every put, not left to the bucket default, so a bucket policy can deny puts without it.
        ...(this.kmsKeyId
          ? { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: this.kmsKeyId }
          : { ServerSideEncryption: 'AES256' }),
      }),
    );
    return { key, contentType, size: body.length };
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  async publicUrl(key: string): Promise<string> {
    if (this.cdnBaseUrl) return `${this.cdnBaseUrl}/${key.split('/').map(encodeURIComponent).join('/')}`;
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: key }), {
      expiresIn: this.presignTtlSeconds,
      signingDate: this.clock.now(),
    });
  }

  /** Closes the SDK's keep-alive sockets so shutdown is not held up by them. */
  onApplicationShutdown(): void {
    this.client.destroy();
  }
}
