import { Injectable } from '@nestjs/common';
import { DomainError, NotFoundError } from '../../common/domain-error';
import type { Role } from './user.entity';
import { User, UserWithPassword, UsersRepository } from './users.repository';

export class EmailTakenError extends DomainError {
  constructor() {
    super('conflict', 'EMAIL_TAKEN', 'An account with this e-mail already exists.');
  }
}

export interface NewUser {
  email: string;
  name: string;
  role: Role;
  phone?: string | null;
  passwordHash: string;
}

/** E-mail addresses are compared case-insensitively: stored and looked up lower-cased. */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

@Injectable()
export class UsersService {
  constructor(private readonly users: UsersRepository) {}

  async create(input: NewUser): Promise<User> {
    const user = await this.users.insert({
      email: normaliseEmail(input.email),
      name: input.name.trim(),
      role: input.role,
      phone: input.phone ?? null,
      passwordHash: input.passwordHash,
    });
    if (!user) throw new EmailTakenError();
    return user;
  }

  findByEmailWithPassword(email: string): Promise<UserWithPassword | undefined> {
    return this.users.findByEmail(normaliseEmail(email));
  }

  /** The registered user with this e-mail, if any (without the password hash). */
  async findByEmail(email: string): Promise<User | undefined> {
    const found = await this.users.findByEmail(normaliseEmail(email));
    if (!found) return undefined;
    const { passwordHash: _, ...user } = found;
    return user;
  }

  async get(id: string): Promise<User> {
    const user = await this.users.findById(id);
    if (!user) throw new NotFoundError('No such user.');
    return user;
  }

  async isEmpty(): Promise<boolean> {
    return (await this.users.count()) === 0;
  }
}
