import { Injectable } from '@nestjs/common';
import { Sql } from '../../database/transaction';
import type { Role } from './user.model';

export interface User {
  id: string;
  email: string;
  name: string;
  role: Role;
  phone: string | null;
  /** Whether `phone` was verified by a code sent to it (SMS go only to a verified phone). */
  phoneVerified: boolean;
}

export interface UserWithPassword extends User {
  passwordHash: string;
}

const COLUMNS = `id, email, name, role, phone, phone_verified_at IS NOT NULL AS "phoneVerified"`;

@Injectable()
export class UsersRepository {
  /** Returns undefined when the e-mail is taken (the unique index decides, so concurrent sign-ups are safe). */
  async insert(sql: Sql, user: Omit<UserWithPassword, 'id' | 'phoneVerified'>): Promise<User | undefined> {
    const rows = await sql.query<User>(
      `INSERT INTO users (email, name, role, phone, password_hash) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (email) DO NOTHING
       RETURNING ${COLUMNS}`,
      [user.email, user.name, user.role, user.phone, user.passwordHash],
    );
    return rows[0];
  }

  async findByEmail(sql: Sql, email: string): Promise<UserWithPassword | undefined> {
    const rows = await sql.query<UserWithPassword>(
      `SELECT ${COLUMNS}, password_hash AS "passwordHash" FROM users WHERE email = $1`,
      [email],
    );
    return rows[0];
  }

  async findById(sql: Sql, id: string): Promise<User | undefined> {
    const rows = await sql.query<User>(`SELECT ${COLUMNS} FROM users WHERE id = $1`, [id]);
    return rows[0];
  }

  /** The user locked for a change of phone (`FOR UPDATE`): concurrent changes are decided one after the other. */
  async lockById(sql: Sql, id: string): Promise<User | undefined> {
    const rows = await sql.query<User>(`SELECT ${COLUMNS} FROM users WHERE id = $1 FOR UPDATE`, [id]);
    return rows[0];
  }

  /** A new number is unverified; the same number keeps its state. */
  async setPhone(sql: Sql, id: string, phone: string): Promise<void> {
    await sql.query(
      `UPDATE users SET phone = $2, phone_verified_at = CASE WHEN phone = $2 THEN phone_verified_at END WHERE id = $1`,
      [id, phone],
    );
  }

  /** Verified only if the number is still the one the code was sent to; undefined otherwise. */
  async markPhoneVerified(sql: Sql, id: string, phone: string): Promise<User | undefined> {
    const rows = await sql.query<User>(
      `UPDATE users SET phone_verified_at = coalesce(phone_verified_at, now()) WHERE id = $1 AND phone = $2 RETURNING ${COLUMNS}`,
      [id, phone],
    );
    return rows[0];
  }

  async count(sql: Sql): Promise<number> {
    const [row] = await sql.query<{ n: string }>(`SELECT count(*) AS n FROM users`);
    return Number(row.n);
  }
}
