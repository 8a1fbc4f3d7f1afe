import { Injectable } from '@nestjs/common';
import { DomainError, NotFoundError } from '../../common/domain-error';
import { Sql, Transactions } from '../../database/transaction';
import type { Role } from './user.model';
import { User, UserWithPassword, UsersRepository } from './users.repository';

export class EmailTakenError extends DomainError {
  constructor() {
    super('conflict', 'EMAIL_TAKEN', 'An account with this e-mail already exists.');
  }
}

/**
 * How a user is reached: what another module may know to write to them. `smsPhone` is the phone
 * only once it is verified (null otherwise): the one place that decides whether SMS may be sent.
 */
export type Contact = Pick<User, 'email' | 'name'> & { smsPhone: string | null };

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
  constructor(
    private readonly users: UsersRepository,
    private readonly tx: Transactions,
  ) {}

  async create(input: NewUser): Promise<User> {
    const user = await this.users.insert(this.tx.sql, {
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
    return this.users.findByEmail(this.tx.sql, normaliseEmail(email));
  }

  /** The registered user with this e-mail, if any (without the password hash). */
  async findByEmail(email: string): Promise<User | undefined> {
    const found = await this.users.findByEmail(this.tx.sql, normaliseEmail(email));
    if (!found) return undefined;
    const { passwordHash: _, ...user } = found;
    return user;
  }

  async get(id: string): Promise<User> {
    const user = await this.users.findById(this.tx.sql, id);
    if (!user) throw new NotFoundError('No such user.');
    return user;
  }

  /**
   * The user's e-mail, name and verified phone, read with the caller's executor: inside the caller's
   * transaction, a message queued there is written to whoever the user is at that moment.
   */
  async contact(sql: Sql, id: string): Promise<Contact | undefined> {
    const user = await this.users.findById(sql, id);
    return user && { email: user.email, name: user.name, smsPhone: user.phoneVerified ? user.phone : null };
  }

  async isEmpty(): Promise<boolean> {
    return (await this.users.count(this.tx.sql)) === 0;
  }
}
