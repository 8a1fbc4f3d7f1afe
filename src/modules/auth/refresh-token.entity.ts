import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** A refresh token is stored only as its SHA-256; `spent_at` marks it used (rotation). */
@Entity({ name: 'refresh_tokens' })
export class RefreshTokenEntity {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Index('refresh_tokens_session_id_idx')
  @Column('uuid', { name: 'session_id' })
  sessionId: string;

  @Index('refresh_tokens_token_hash_key', { unique: true })
  @Column('bytea', { name: 'token_hash' })
  tokenHash: Buffer;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column('timestamptz', { name: 'expires_at' })
  expiresAt: Date;

  @Column('timestamptz', { name: 'spent_at', nullable: true })
  spentAt: Date | null;
}
