import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { DomainError, RateLimitedError, UnauthenticatedError } from '../../common/domain-error';
import { Transactions } from '../../database/transaction';
import { AuthConfig, RateLimitConfig } from '../../config';
import { RateLimiter } from '../../ports/rate-limiter.port';
import { TokenBlacklist } from '../../ports/token-blacklist.port';
import type { Role } from '../users/user.model';
import type { User } from '../users/users.repository';
import { normaliseEmail, UsersService } from '../users/users.service';
import type { AuthenticatedUser } from './auth.decorators';
import { AuthRepository } from './auth.repository';
import { PasswordHasher } from './password-hasher';
import { LogThrottle } from '../../common/log-throttle';

export class InvalidCredentialsError extends DomainError {
  constructor() {
    super('unauthenticated', 'INVALID_CREDENTIALS', 'The e-mail or the password is wrong.');
  }
}

export interface AuthResult {
  user: User;
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

export interface Registration {
  email: string;
  password: string;
  name: string;
  role: Extract<Role, 'buyer' | 'organiser'>;
  phone?: string;
}

export function hashRefreshToken(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

@Injectable()
export class AuthService {
  private readonly logger = new Logger(AuthService.name);
  private readonly limiterFailures = new LogThrottle();

  constructor(
    private readonly config: AuthConfig,
    private readonly rateLimit: RateLimitConfig,
    private readonly users: UsersService,
    private readonly sessions: AuthRepository,
    private readonly hasher: PasswordHasher,
    private readonly jwt: JwtService,
    private readonly blacklist: TokenBlacklist,
    private readonly limiter: RateLimiter,
    private readonly tx: Transactions,
  ) {}

  async register(input: Registration): Promise<AuthResult> {
    const passwordHash = await this.hasher.hash(input.password);
    const user = await this.users.create({ ...input, passwordHash });
    return this.startSession(user);
  }

  /**
   * Failed logins are counted per e-mail across instances. Each attempt takes a slot first (so a
   * burst of parallel guesses cannot slip past the limit) and a successful one gives it back.
   */
  async login(email: string, password: string): Promise<AuthResult> {
    const key = `login-failures:${normaliseEmail(email)}`;
    const { loginFailureLimit, loginFailureWindowSeconds } = this.rateLimit;
    const decision = await this.limiter
      .consume(key, loginFailureLimit, loginFailureWindowSeconds)
      .catch((error: unknown) => {
        const held = this.limiterFailures.take();
        if (held !== undefined) this.logger.warn({ err: error, heldBack: held }, 'login limiter unavailable; allowing attempts (fail-open)');
        return undefined;
      });
    if (decision && !decision.allowed) {
      throw new RateLimitedError(decision.retryAfterSeconds, 'Too many failed logins for this e-mail; retry later.');
    }
    const found = await this.users.findByEmailWithPassword(email);
    if (!(await this.hasher.verify(found?.passwordHash, password)) || !found) throw new InvalidCredentialsError();
    if (decision) await this.limiter.refund(key).catch(() => undefined);
    const { passwordHash: _, ...user } = found;
    return this.startSession(user);
  }

  /** Rotation: the presented token is spent and a new pair issued. A spent token presented again revokes the login. */
  async refresh(refreshToken: string): Promise<AuthResult> {
    const tokenHash = hashRefreshToken(refreshToken);
    const next = this.newRefreshToken();
    const rotated = await this.tx.run(async (sql) => {
      const spent = await this.sessions.spend(sql, tokenHash);
      if (spent) await this.sessions.addRefreshToken(sql, spent.sessionId, next.hash, this.config.refreshTokenTtlSeconds);
      return spent;
    });
    if (rotated) {
      return { user: rotated.user, ...(await this.issueAccessToken(rotated.user, rotated.sessionId)), refreshToken: next.token };
    }
    const state = await this.sessions.describe(this.tx.sql, tokenHash);
    if (state?.spent) {
      await this.revokeSession(state.sessionId, 'refresh_token_reuse');
      this.logger.warn({ sessionId: state.sessionId }, 'spent refresh token presented again; login revoked');
      throw new UnauthenticatedError('This refresh token was already used; the login has been revoked.');
    }
    throw new UnauthenticatedError('The refresh token is invalid or expired.');
  }

  /** The access token (by its jti) and the whole login (refresh tokens, other access tokens) end now. */
  async logout(caller: AuthenticatedUser): Promise<void> {
    const remaining = caller.exp - Math.floor(Date.now() / 1000);
    await Promise.all([
      remaining > 0 ? this.blacklist.revokeToken(caller.jti, remaining) : Promise.resolve(),
      this.revokeSession(caller.sessionId, 'logout'),
    ]);
  }

  private async revokeSession(sessionId: string, reason: string): Promise<void> {
    await this.sessions.revokeSession(this.tx.sql, sessionId, reason);
    await this.blacklist.revokeSession(sessionId, this.config.accessTokenTtlSeconds);
  }

  private async startSession(user: User): Promise<AuthResult> {
    const refresh = this.newRefreshToken();
    const sessionId = await this.sessions.createSession(this.tx.sql, user.id, refresh.hash, this.config.refreshTokenTtlSeconds);
    return { user, ...(await this.issueAccessToken(user, sessionId)), refreshToken: refresh.token };
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
