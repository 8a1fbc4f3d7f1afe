import { Client } from 'pg';
import { invariantViolations } from './orders';

/**
 * The database against what clients were told: every order answered 201 exists, every order
 * answered 200 to pay is paid and has its confirmation in the outbox, and the inventory invariants
 * hold. Shared by the shutdown test and `npm run test:resilience`.
 */
export async function theBooks(db: Client, answered: { held: string[]; paid: string[] }) {
  const { held, paid } = answered;
  const found = new Set((await db.query<{ id: string }>('SELECT id FROM orders WHERE id = ANY($1::uuid[])', [held])).rows.map((r) => r.id));
  const lostOrders = held.filter((id) => !found.has(id));
  const paidRows = await db.query<{ id: string; status: string; outbox: number }>(
    `SELECT o.id, o.status, (SELECT count(*)::int FROM outbox x WHERE x.cause = 'order-paid:' || o.id::text) AS outbox
       FROM orders o WHERE o.id = ANY($1::uuid[])`,
    [paid],
  );
  const notPaid = paidRows.rows.filter((r) => r.status !== 'paid').map((r) => r.id);
  const withoutConfirmation = paidRows.rows.filter((r) => r.outbox === 0).map((r) => r.id);
  const missingPaid = paid.length - paidRows.rowCount!;
  const ordersInDb = (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM orders')).rows[0].n;
  const invariants = await invariantViolations(db);
  return { held: held.length, lostOrders, ordersInDb, paid: paid.length, notPaid, missingPaid, withoutConfirmation, invariants };
}

export type Books = Awaited<ReturnType<typeof theBooks>>;
