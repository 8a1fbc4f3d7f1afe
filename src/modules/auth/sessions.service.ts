import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { UnauthenticatedError } from '../../common/domain-error';
import { EventStreams } from '../../common/event-streams/event-streams.service';
import { LogThrottle } from '../../common/log-throttle';
import { AuthConfig } from '../../config';
import { Transactions } from '../../database/transaction';
import { TokenBlacklist } from '../../ports/token-blacklist.port';
import type { User } from '../users/users.repository';
import type { AuthenticatedUser } from './auth.decorators';
import { AuthRepository } from './auth.repository';

export interface AuthResult {
  user: User;
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

export function hashRefreshToken(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/**
 * A login's tokens: an opaque refresh token stored hashed in Postgres and rotated on every use,
 * and short access tokens whose ids and login the blacklist can revoke.
 */
@Injectable()
export class Sessions {
  private readonly logger = new Logger('Sessions');
  private readonly fallbackWarnings = new LogThrottle();

  constructor(
    private readonly config: AuthConfig,
    private readonly repository: AuthRepository,
    private readonly jwt: JwtService,
    private readonly blacklist: TokenBlacklist,
    private readonly tx: Transactions,
    private readonly streams: EventStreams,
  ) {}

  async start(user: User): Promise<AuthResult> {
    const refresh = this.newRefreshToken();
    const sessionId = await this.repository.createSession(this.tx.sql, user.id, refresh.hash, this.config.refreshTokenTtlSeconds);
    return { user, ...(await this.issueAccessToken(user, sessionId)), refreshToken: refresh.token };
  }

  async rotate(refreshToken: string): Promise<AuthResult> {
    const tokenHash = hashRefreshToken(refreshToken);
    const next = this.newRefreshToken();
    const rotated = await this.tx.run(async (sql) => {
      const spent = await this.repository.spend(sql, tokenHash);
      if (spent) await this.repository.addRefreshToken(sql, spent.sessionId, next.hash, this.config.refreshTokenTtlSeconds);
      return spent;
    });
    if (rotated) {
      return { user: rotated.user, ...(await this.issueAccessToken(rotated.user, rotated.sessionId)), refreshToken: next.token };
    }
    const state = await this.repository.describe(this.tx.sql, tokenHash);
    if (state?.spent) {
      await this.revoke(state.sessionId, 'refresh_token_reuse');
      this.logger.warn({ sessionId: state.sessionId }, 'spent refresh token presented again; login revoked');
      throw new UnauthenticatedError('This refresh token was already used; the login has been revoked.');
    }
    throw new UnauthenticatedError('The refresh token is invalid or expired.');
  }

  /**
   * Whether an access token was revoked: the blacklist answers on every instance at once; while it
   * cannot (Redis down), Postgres does for the token's login (logout and a reused refresh token revoke
   * the login there, in the same request). Fail-closed: an unknown login counts as revoked.
   */
  async isRevoked(jti: string, sessionId: string): Promise<boolean> {
    try {
      return await this.blacklist.isRevoked(jti, sessionId);
    } catch (error) {
      const held = this.fallbackWarnings.take();
      if (held !== undefined) this.logger.warn({ err: error, heldBack: held }, 'token blacklist unavailable; checking the login in Postgres');
      return this.repository.isSessionRevoked(this.tx.sql, sessionId);
    }
  }

  async end(caller: AuthenticatedUser): Promise<void> {
    const remaining = caller.exp - Math.floor(Date.now() / 1000);
    await Promise.all([
      remaining > 0 ? this.blacklist.revokeToken(caller.jti, remaining) : Promise.resolve(),
      this.revoke(caller.sessionId, 'logout'),
    ]);
  }

  private async revoke(sessionId: string, reason: string): Promise<void> {
    await this.repository.revokeSession(this.tx.sql, sessionId, reason);
    await this.blacklist.revokeSession(sessionId, this.config.accessTokenTtlSeconds);
    // The login's open event streams end too, on every instance (the blacklist alone stops new requests).
    await this.streams.end({ sessionId });
  }

  private async issueAccessToken(user: User, sessionId: string): Promise<{ accessToken: string; expiresIn: number }> {
    const expiresIn = this.config.accessTokenTtlSeconds;
    const accessToken = await this.jwt.signAsync(
      { role: user.role, sid: sessionId },
      { subject: user.id, jwtid: randomUUID(), expiresIn },
    );
    return { accessToken, expiresIn };
  }

  private newRefreshToken(): { token: string; hash: Buffer } {
    const token = randomBytes(32).toString('base64url');
    return { token, hash: hashRefreshToken(token) };
  }
}
