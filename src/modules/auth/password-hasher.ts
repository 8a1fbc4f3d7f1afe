import { Injectable } from '@nestjs/common';
import { Algorithm, hash, verify } from '@node-rs/argon2';
import { AuthConfig } from '../../config';

/** argon2id with the configured cost; `verify` reads the parameters stored in each hash. */
@Injectable()
export class PasswordHasher {
  /** Verified against when the e-mail is unknown, so both failures take the same time. */
  private readonly dummyHash: Promise<string>;

  constructor(private readonly config: AuthConfig) {
    this.dummyHash = this.hash('tickr-timing-equaliser-password');
  }

  hash(password: string): Promise<string> {
    return hash(password, {
      algorithm: Algorithm.Argon2id,
      memoryCost: this.config.argon2MemoryKib,
      timeCost: this.config.argon2TimeCost,
      parallelism: 1,
    });
  }

  /** False for a wrong password, and always false when there is no user (`hash` undefined). */
  async verify(hash: string | undefined, password: string): Promise<boolean> {
    try {
      const matches = await verify(hash ?? (await this.dummyHash), password);
      return matches && hash !== undefined;
    } catch {
      return false;
    }
  }
}
