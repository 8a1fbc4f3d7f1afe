import { TokenBlacklist } from '../../ports/token-blacklist.port';
import { ExpiringMap } from './expiring-map';

export class InMemoryTokenBlacklist extends TokenBlacklist {
  private readonly revoked = new ExpiringMap<true>();

  async revokeToken(jti: string, ttlSeconds: number): Promise<void> {
    this.revoked.set(`jti:${jti}`, true, ttlSeconds * 1000);
  }

  async revokeSession(sessionId: string, ttlSeconds: number): Promise<void> {
    this.revoked.set(`sid:${sessionId}`, true, ttlSeconds * 1000);
  }

  async isRevoked(jti: string, sessionId: string): Promise<boolean> {
    return this.revoked.get(`jti:${jti}`) !== undefined || this.revoked.get(`sid:${sessionId}`) !== undefined;
  }
}
