import { Injectable } from '@nestjs/common';
import { ErrorKind } from '../../common/domain-error';
import { Sql } from '../../database/transaction';

/**
 * Idempotency keys of holds. A key row is inserted first thing in the hold's transaction, so a
 * concurrent request with the same key blocks on the unique index until that transaction ends,
 * then finds the stored outcome.
 *
 * What is stored is the domain outcome (the order placed, or the refusal), rendered on the way out,
 * so that a change to the API's order view never changes what a replay answers. `response_status`
 * is written beside it for operators (and queries by status); replays never read it. Rows written
 * before migration OutcomeKeys1764201600000 (or by an instance still running the code before it)
 * carry the HTTP answer instead, and are answered exactly as they were.
 */

export interface StoredRefusal {
  kind: ErrorKind;
  code: string;
  message: string;
  extras: Record<string, unknown>;
}

export type HoldOutcome = { orderId: string } | { refusal: StoredRefusal };

/** What an earlier request stored under a key: its outcome, or (an old row) the HTTP answer it gave. */
export type StoredKey = { requestHash: string } & ({ outcome: HoldOutcome } | { legacy: { status: number; body: unknown } });

export interface KeyOutcome {
  buyerId: string;
  key: string;
  outcome: HoldOutcome;
  /** The HTTP status the outcome is answered with, for operators. */
  status: number;
}

/** One idempotency key's identity within a batch: buyer and key. */
export const keyId = (buyerId: string, key: string): string => `${buyerId}\u0000${key}`;

interface KeyRow {
  buyer_id: string;
  key: string;
  request_hash: string;
  outcome: HoldOutcome | null;
  response_status: number | null;
  response_body: unknown;
}

function toStored(row: KeyRow): StoredKey {
  if (row.outcome) return { requestHash: row.request_hash, outcome: row.outcome };
  // Only a purge in that very instant could leave a key without either; one is always stored before commit.
  if (row.response_status === null) throw new Error('idempotency key without an answer');
  return { requestHash: row.request_hash, legacy: { status: row.response_status, body: row.response_body } };
}

@Injectable()
export class IdempotencyRepository {
  /** Keys older than the retention, a bounded batch at a time. */
  async purgeKeys(sql: Sql, olderThanSeconds: number, batch: number): Promise<number> {
    const rows = await sql.query(
      `DELETE FROM idempotency_keys WHERE ctid = ANY (ARRAY(
         SELECT ctid FROM idempotency_keys WHERE created_at < now() - make_interval(secs => $1) LIMIT $2))
       RETURNING 1`,
      [olderThanSeconds, batch],
    );
    return rows.length;
  }

  /**
   * Claims distinct keys in one statement: returns the keys this transaction now owns. A concurrent
   * holder of one of them makes this wait until it commits; that key is then not returned.
   */
  async claim(sql: Sql, keys: readonly { buyerId: string; key: string; requestHash: string }[]): Promise<Set<string>> {
    const rows = await sql.query<{ buyer_id: string; key: string }>(
      `INSERT INTO idempotency_keys (buyer_id, key, request_hash)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[])
       ON CONFLICT (buyer_id, key) DO NOTHING
       RETURNING buyer_id, key`,
      [keys.map((k) => k.buyerId), keys.map((k) => k.key), keys.map((k) => k.requestHash)],
    );
    return new Set(rows.map((r) => keyId(r.buyer_id, r.key)));
  }

  /** What earlier, committed requests stored under these keys, by `keyId`. */
  async read(sql: Sql, keys: readonly { buyerId: string; key: string }[]): Promise<Map<string, StoredKey>> {
    const rows = await sql.query<KeyRow>(
      `SELECT k.buyer_id, k.key, k.request_hash, k.outcome, k.response_status, k.response_body
         FROM idempotency_keys k
         JOIN unnest($1::uuid[], $2::text[]) AS x(buyer_id, key) ON k.buyer_id = x.buyer_id AND k.key = x.key`,
      [keys.map((k) => k.buyerId), keys.map((k) => k.key)],
    );
    return new Map(rows.map((row) => [keyId(row.buyer_id, row.key), toStored(row)]));
  }
}
