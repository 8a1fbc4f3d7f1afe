import { Injectable } from '@nestjs/common';
import { Sql } from '../../database/transaction';
import type { Role } from './user.model';

export interface User {
  id: string;
  email: string;
  name: string;
  role: Role;
  phone: string | null;
}

export interface UserWithPassword extends User {
  passwordHash: string;
}

const COLUMNS = `id, email, name, role, phone`;

@Injectable()
export class UsersRepository {
  /** Returns undefined when the e-mail is taken (the unique index decides, so concurrent sign-ups are safe). */
  async insert(sql: Sql, user: Omit<UserWithPassword, 'id'>): Promise<User | undefined> {
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

  async count(sql: Sql): Promise<number> {
    const [row] = await sql.query<{ n: string }>(`SELECT count(*) AS n FROM users`);
    return Number(row.n);
  }
}
