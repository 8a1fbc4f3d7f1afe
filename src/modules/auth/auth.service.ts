import { Injectable } from '@nestjs/common';
import { DomainError } from '../../common/domain-error';
import type { Role } from '../users/user.model';
import { UsersService } from '../users/users.service';
import type { AuthenticatedUser } from './auth.decorators';
import { LoginAttempts } from './login-attempts.service';
import { PasswordHasher } from './password-hasher';
import { AuthResult, Sessions } from './sessions.service';

export type { AuthResult } from './sessions.service';
export { hashRefreshToken } from './sessions.service';

export class InvalidCredentialsError extends DomainError {
  constructor() {
    super('unauthenticated', 'INVALID_CREDENTIALS', 'The e-mail or the password is wrong.');
  }
}

export interface Registration {
  email: string;
  password: string;
  name: string;
  role: Extract<Role, 'buyer' | 'organiser'>;
  phone?: string;
}

/** Registration, login, refresh and logout: who the caller is, and the tokens that say so. */
@Injectable()
export class AuthService {
  constructor(
    private readonly users: UsersService,
    private readonly hasher: PasswordHasher,
    private readonly sessions: Sessions,
    private readonly attempts: LoginAttempts,
  ) {}

  async register(input: Registration): Promise<AuthResult> {
    const passwordHash = await this.hasher.hash(input.password);
    const user = await this.users.create({ ...input, passwordHash });
    return this.sessions.start(user);
  }

  async login(email: string, password: string): Promise<AuthResult> {
    const attempt = await this.attempts.take(email);
    const found = await this.users.findByEmailWithPassword(email);
    if (!(await this.hasher.verify(found?.passwordHash, password)) || !found) throw new InvalidCredentialsError();
    await attempt.succeeded();
    const { passwordHash: _, ...user } = found;
    return this.sessions.start(user);
  }

  /** Rotation: the presented token is spent and a new pair issued. A spent token presented again revokes the login. */
  refresh(refreshToken: string): Promise<AuthResult> {
    return this.sessions.rotate(refreshToken);
  }

  /** The access token (by its jti) and the whole login (refresh tokens, other access tokens) end now. */
  logout(caller: AuthenticatedUser): Promise<void> {
    return this.sessions.end(caller);
  }
}
