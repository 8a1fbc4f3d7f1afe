import type Redis from 'ioredis';
import { KeyedBatcher } from '../../common/keyed-batcher';
import { TokenBlacklist } from '../../ports/token-blacklist.port';

/** Tokens checked by one MGET at most. */
const CHECKS_PER_CALL = 500;

interface Check {
  jti: string;
  sessionId: string;
}

/**
 * Revoked tokens and sessions, shared by every instance. Every authenticated request asks whether its
 * token was revoked: the checks that arrive while one is in flight are asked together by the next
 * MGET (KeyedBatcher), sent after they arrived, so a revocation answered before a request arrived is
 * seen by it, and an on-sale's thousands of authenticated requests cost one command per turn of the
 * event loop instead of one each.
 */
export class RedisTokenBlacklist extends TokenBlacklist {
  private readonly checks = new KeyedBatcher<Check, boolean>(async (_all, checks) => {
    const values = await this.redis.mget(checks.flatMap((c) => [`revoked:jti:${c.jti}`, `revoked:sid:${c.sessionId}`]));
    return checks.map((_, i) => ({ ok: true, value: values[2 * i] !== null || values[2 * i + 1] !== null }));
  }, CHECKS_PER_CALL);

  constructor(private readonly redis: Redis) {
    super();
  }

  async revokeToken(jti: string, ttlSeconds: number): Promise<void> {
    await this.redis.set(`revoked:jti:${jti}`, '1', 'EX', Math.max(1, Math.ceil(ttlSeconds)));
  }

  async revokeSession(sessionId: string, ttlSeconds: number): Promise<void> {
    await this.redis.set(`revoked:sid:${sessionId}`, '1', 'EX', Math.max(1, Math.ceil(ttlSeconds)));
  }

  isRevoked(jti: string, sessionId: string): Promise<boolean> {
    return this.checks.submit('checks', { jti, sessionId });
  }
}
