import type Redis from 'ioredis';
import { TokenBlacklist } from '../../ports/token-blacklist.port';

export class RedisTokenBlacklist extends TokenBlacklist {
  constructor(private readonly redis: Redis) {
    super();
  }

  async revokeToken(jti: string, ttlSeconds: number): Promise<void> {
    await this.redis.set(`revoked:jti:${jti}`, '1', 'EX', Math.max(1, Math.ceil(ttlSeconds)));
  }

  async revokeSession(sessionId: string, ttlSeconds: number): Promise<void> {
    await this.redis.set(`revoked:sid:${sessionId}`, '1', 'EX', Math.max(1, Math.ceil(ttlSeconds)));
  }

  async isRevoked(jti: string, sessionId: string): Promise<boolean> {
    return (await this.redis.exists(`revoked:jti:${jti}`, `revoked:sid:${sessionId}`)) > 0;
  }
}
