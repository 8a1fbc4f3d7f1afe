import { TokenBlacklist } from '../../ports/token-blacklist.port';
import { FailOpen } from './fail-open';

/**
 * The check fails open: access tokens live 15 minutes, and refusing every authenticated request
 * during a Redis blip would take the on-sale down with it. A revocation does not: a logout that
 * could not be recorded must say so (503), not pretend it happened.
 */
export class FailOpenTokenBlacklist extends TokenBlacklist {
  private readonly failOpen = new FailOpen('TokenBlacklist');

  constructor(private readonly inner: TokenBlacklist) {
    super();
  }

  revokeToken(jti: string, ttlSeconds: number): Promise<void> {
    return this.inner.revokeToken(jti, ttlSeconds);
  }

  revokeSession(sessionId: string, ttlSeconds: number): Promise<void> {
    return this.inner.revokeSession(sessionId, ttlSeconds);
  }

  isRevoked(jti: string, sessionId: string): Promise<boolean> {
    return this.failOpen.attempt(() => this.inner.isRevoked(jti, sessionId), false, 'token blacklist unavailable; accepting tokens');
  }
}
