import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { DomainError, RateLimitedError, UnauthenticatedError } from '../../common/domain-error';
import { Transactions } from '../../database/transaction';
import { AppConfig } from '../../config/app-config';
import { RateLimiter } from '../../ports/rate-limiter.port';
import { TokenBlacklist } from '../../ports/token-blacklist.port';
import type { Role } from '../users/user.entity';
import type { User } from '../users/users.repository';
import { normaliseEmail, UsersService } from '../users/users.service';
import type { AuthenticatedUser } from './auth.decorators';
import { AuthRepository } from './auth.repository';
import { PasswordHasher } from './password-hasher';

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

  constructor(
    private readonly config: AppConfig,
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
    const { loginFailureLimit, loginFailureWindowSeconds } = this.config.rateLimit;
    // Allows the attempt while Redis cannot count it (the RateLimiter port fails open).
    const decision = await this.limiter.consume(key, loginFailureLimit, loginFailureWindowSeconds);
    if (!decision.allowed) {
      throw new RateLimitedError(decision.retryAfterSeconds, 'Too many failed logins for this e-mail; retry later.');
    }
    const found = await this.users.findByEmailWithPassword(email);
    if (!(await this.hasher.verify(found?.passwordHash, password)) || !found) throw new InvalidCredentialsError();
    await this.limiter.refund(key);
    const { passwordHash: _, ...user } = found;
    return this.startSession(user);
  }

  /** Rotation: the presented token is spent and a new pair issued. A spent token presented again revokes the login. */
  async refresh(refreshToken: string): Promise<AuthResult> {
    const tokenHash = hashRefreshToken(refreshToken);
    const next = this.newRefreshToken();
    const rotated = await this.tx.run(async (sql) => {
      const spent = await this.sessions.spend(tokenHash, sql);
      if (spent) await this.sessions.addRefreshToken(spent.sessionId, next.hash, this.config.auth.refreshTokenTtlSeconds, sql);
      return spent;
    });
    if (rotated) {
      return { user: rotated.user, ...(await this.issueAccessToken(rotated.user, rotated.sessionId)), refreshToken: next.token };
    }
    const state = await this.sessions.describe(tokenHash);
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
    await this.sessions.revokeSession(sessionId, reason);
    await this.blacklist.revokeSession(sessionId, this.config.auth.accessTokenTtlSeconds);
  }

  private async startSession(user: User): Promise<AuthResult> {
    const refresh = this.newRefreshToken();
    const sessionId = await this.sessions.createSession(user.id, refresh.hash, this.config.auth.refreshTokenTtlSeconds);
    return { user, ...(await this.issueAccessToken(user, sessionId)), refreshToken: refresh.token };
  }

  private async issueAccessToken(user: User, sessionId: string): Promise<{ accessToken: string; expiresIn: number }> {
    const expiresIn = this.config.auth.accessTokenTtlSeconds;
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
