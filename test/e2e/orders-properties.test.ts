import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { Client, Pool } from 'pg';
import { OrdersWorker } from '../../src/modules/orders/orders.worker';
import { startTestApp, TestApp } from '../support/app';
import { call, Reply, Session } from '../support/http';
import { buyers as registerBuyers, invariantViolations, organiser, pay, placeOrder, sellableEvent } from '../support/orders';
import { CHEAP_HASHING, expectProblem } from '../support/problems';

/**
 * Random sequences of order actions, some of them fired together, against one app over HTTP and
 * its real Postgres and Redis. A model of each order's status predicts the exact answer of every
 * action run on its own; actions run together must each get an answer the contract allows, and
 * agree with where the order ended up. After every step the invariants of the orders issue hold,
 * and the counters equal what the orders say. fast-check shrinks a failure to a short story.
 */

const PRICE = 45_000;
const BUYERS = 3;

type Status = 'pending' | 'paid' | 'cancelled' | 'expired' | 'refunded';

type Action =
  | { kind: 'hold'; buyer: number; items: { tt: number; quantity: number }[] }
  | { kind: 'replay'; hold: number }
  | { kind: 'reuse'; hold: number }
  | { kind: 'pay'; order: number; good: boolean }
  | { kind: 'cancel'; order: number }
  | { kind: 'expire'; order: number; sweep: boolean }
  | { kind: 'sweep' }
  | { kind: 'refund'; order: number; by: 'buyer' | 'organiser' };

interface Scenario {
  types: { capacity: number; maxPerOrder: number }[];
  steps: Action[][];
}

/** Which earlier order (or hold) an action is about, counted from the latest: mostly the latest few. */
const recent = fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 3, arbitrary: fc.nat(2) }, { weight: 1, arbitrary: fc.nat(20) });

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('hold' as const),
      buyer: fc.nat(BUYERS - 1),
            items: fc.array(
        fc.record({
          tt: fc.nat(2),
          quantity: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 2 }) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 4 }) }),
        }),
        { minLength: 1, maxLength: 3 },
      ),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('replay' as const), hold: recent }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reuse' as const), hold: recent }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('pay' as const), order: recent, good: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('cancel' as const), order: recent }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('expire' as const), order: recent, sweep: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('sweep' as const) }) },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('refund' as const), order: recent, by: fc.constantFrom('buyer' as const, 'organiser' as const) }),
  },
);

const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  types: fc.array(fc.record({ capacity: fc.integer({ min: 1, max: 5 }), maxPerOrder: fc.integer({ min: 1, max: 3 }) }), {
    minLength: 1,
    maxLength: 3,
  }),
  // Mostly one action at a time (exact answers), sometimes a few at once (races).
  steps: fc.array(
    fc.oneof(
      { weight: 3, arbitrary: actionArb.map((a) => [a]) },
      { weight: 1, arbitrary: fc.array(actionArb, { minLength: 2, maxLength: 5 }) },
    ),
    { minLength: 1, maxLength: 20 },
  ),
});

/** The moves an order can make, including two in one concurrent step (pending → paid → refunded). */
const REACHABLE: Record<Status, Status[]> = {
  pending: ['pending', 'paid', 'cancelled', 'expired', 'refunded'],
  paid: ['paid', 'refunded'],
  cancelled: ['cancelled'],
  expired: ['expired'],
  refunded: ['refunded'],
};

const outcome = (r: Reply) => (r.status >= 400 ? `${r.status} ${r.body?.code ?? r.text.slice(0, 200)}` : String(r.status));

class Violation extends Error {}

/** The k-th latest element (0: the last), wrapping; undefined when there is none. */
const nth = <T>(list: T[], k: number): T | undefined => (list.length ? list[list.length - 1 - (k % list.length)] : undefined);

describe('orders: random interleavings of hold, pay, cancel, expire and refund', () => {
  let t: TestApp;
  let pg: Client;
  let pool: Pool;
  let worker: OrdersWorker;
  let owner: Session;
  let people: Session[];

  beforeAll(async () => {
    t = await startTestApp({ ...CHEAP_HASHING, WORKER_ENABLED: 'false' });
    pg = new Client({ connectionString: t.db.url });
    await pg.connect();
    pool = new Pool({ connectionString: t.db.url, max: 5 });
    worker = t.app.get(OrdersWorker);
    owner = await organiser(t.url);
    people = await registerBuyers(t.url, BUYERS);
  }, 60_000);

  afterAll(async () => {
    await pg?.end();
    await pool?.end();
    await t?.close();
  });

  interface ModelOrder {
    id: string;
    buyer: number;
    items: { ticketTypeId: string; quantity: number }[];
    status: Status;
    /** Its expiry moved into the past while pending (no sweep since). */
    due: boolean;
    paidTimes: number;
    refundedTimes: number;
    cancelledTimes: number;
    /** An `expire` moved its expiry, whatever its status then. */
    expiryMoved?: boolean;
  }

  interface HoldAttempt {
    buyer: number;
    key: string;
    body: { eventId: string; items: { ticketTypeId: string; quantity: number }[] };
    first: { outcome: string; orderId?: string };
  }

  async function runScenario(scenario: Scenario): Promise<void> {
    // Due holds an earlier run left (a failing one stops halfway) are not this run's to count.
    await worker.releaseExpiredHolds();
    const sale = await sellableEvent(
      t.url,
      owner,
      scenario.types.map((s) => ({ ...s, price: PRICE })),
    );
    const types = sale.ticketTypeIds.map((id, k) => ({ id, ...scenario.types[k] }));
    const orders: ModelOrder[] = [];
    const attempts: HoldAttempt[] = [];
    const log: string[] = [];
    const fail = (message: string): never => {
      throw new Violation(`${message}\n--- steps so far ---\n${log.join('\n')}`);
    };

    const available = (ticketTypeId: string) =>
      types.find((x) => x.id === ticketTypeId)!.capacity -
      orders
        .filter((o) => o.status === 'pending' || o.status === 'paid')
        .reduce((n, o) => n + (o.items.find((i) => i.ticketTypeId === ticketTypeId)?.quantity ?? 0), 0);

    const itemsOf = (a: Extract<Action, { kind: 'hold' }>) => {
      const seen = new Set<string>();
      const items: { ticketTypeId: string; quantity: number }[] = [];
      for (const i of a.items) {
        const tt = types[i.tt % types.length];
        if (seen.has(tt.id)) continue;
        seen.add(tt.id);
        items.push({ ticketTypeId: tt.id, quantity: i.quantity });
      }
      return items;
    };

    /** The exact answer the contract gives for `a` run alone, from the model; undefined for sweeps. */
    function predict(a: Action): string | undefined {
      switch (a.kind) {
        case 'hold': {
          const items = itemsOf(a);
          if (items.some((i) => i.quantity > types.find((x) => x.id === i.ticketTypeId)!.maxPerOrder)) return '422 QUANTITY_LIMIT';
          return items.every((i) => available(i.ticketTypeId) >= i.quantity) ? '201' : '409 SOLD_OUT';
        }
        case 'replay':
          return nth(attempts, a.hold)?.first.outcome;
        case 'reuse':
          return attempts.length ? '422 IDEMPOTENCY_KEY_REUSED' : undefined;
        case 'pay': {
          const o = nth(orders, a.order);
          if (!o) return undefined;
          if ((o.status === 'pending' && o.due) || o.status === 'expired') return '409 HOLD_EXPIRED';
          if (o.status !== 'pending') return '409 ORDER_NOT_PENDING';
          return a.good ? '200' : '402 PAYMENT_DECLINED';
        }
        case 'cancel': {
          const o = nth(orders, a.order);
          if (!o) return undefined;
          return o.status === 'pending' ? '200' : '409 ORDER_NOT_PENDING';
        }
        case 'refund': {
          const o = nth(orders, a.order);
          if (!o) return undefined;
          return o.status === 'paid' ? '200' : '409 ORDER_NOT_PAID';
        }
        default:
          return undefined;
      }
    }

    /** What the contract allows for `a` whatever runs beside it. */
    function allowed(a: Action): string[] {
      switch (a.kind) {
        case 'hold':
          return predict(a) === '422 QUANTITY_LIMIT' ? ['422 QUANTITY_LIMIT'] : ['201', '409 SOLD_OUT'];
        case 'replay':
        case 'reuse':
          return [predict(a)!];
        case 'pay':
          return [a.good ? '200' : '402 PAYMENT_DECLINED', '409 HOLD_EXPIRED', '409 ORDER_NOT_PENDING'];
        case 'cancel':
          return ['200', '409 ORDER_NOT_PENDING'];
        case 'refund':
          return ['200', '409 ORDER_NOT_PAID'];
        default:
          return [];
      }
    }

    type Result = { reply?: Reply; released?: number; order?: ModelOrder; attempt?: HoldAttempt };

    /** Performs `a` against the app (and the database, for the clock); no checks here. */
    async function perform(a: Action): Promise<Result | undefined> {
      switch (a.kind) {
        case 'hold': {
          const attempt: HoldAttempt = {
            buyer: a.buyer,
            key: randomUUID(),
            body: { eventId: sale.eventId, items: itemsOf(a) },
            first: { outcome: '' },
          };
          return { reply: await placeOrder(t.url, people[a.buyer], attempt.body, attempt.key), attempt };
        }
        case 'replay': {
          if (!attempts.length) return undefined;
          const h = nth(attempts, a.hold)!;
          return { reply: await placeOrder(t.url, people[h.buyer], h.body, h.key), attempt: h };
        }
        case 'reuse': {
          if (!attempts.length) return undefined;
          const h = nth(attempts, a.hold)!;
          const [first, ...rest] = h.body.items;
          const other = { ...h.body, items: [{ ...first, quantity: (first.quantity % 4) + 1 }, ...rest] };
          return { reply: await placeOrder(t.url, people[h.buyer], other, h.key), attempt: h };
        }
        case 'pay': {
          const o = nth(orders, a.order);
          if (!o) return undefined;
          return { reply: await pay(t.url, people[o.buyer], o.id, a.good ? 'tok_visa' : 'tok_chargeDeclined'), order: o };
        }
        case 'cancel': {
          const o = nth(orders, a.order);
          if (!o) return undefined;
          return { reply: await call(t.url, 'POST', `/v1/orders/${o.id}/cancel`, { token: people[o.buyer].accessToken }), order: o };
        }
        case 'refund': {
          const o = nth(orders, a.order);
          if (!o) return undefined;
          const token = a.by === 'buyer' ? people[o.buyer].accessToken : owner.accessToken;
          return { reply: await call(t.url, 'POST', `/v1/orders/${o.id}/refund`, { token }), order: o };
        }
        case 'expire': {
          const o = nth(orders, a.order);
          if (!o) return undefined;
          // As `expireHold` does, on a pool (expiries in one step run side by side), whatever the
          // order's status: the sweeper must leave alone what is no longer pending.
          o.expiryMoved = true;
          await pool.query(`UPDATE orders SET expires_at = now() - interval '1 second' WHERE id = $1`, [o.id]);
          return { order: o, released: a.sweep ? await worker.releaseExpiredHolds() : undefined };
        }
        case 'sweep':
          return { released: await worker.releaseExpiredHolds() };
      }
    }

    /** Checks a success's body against the order it is about. */
    function checkBody(a: Action, r: Result): void {
      const reply = r.reply!;
      if (reply.status >= 400) {
        expectProblem(reply, reply.status);
        return;
      }
      const seats = (items: { quantity: number }[]) => items.reduce((n, i) => n + i.quantity, 0);
      if (a.kind === 'hold' || a.kind === 'replay') {
        const body = r.attempt!.body;
        const sorted = [...body.items].sort((x, y) => (x.ticketTypeId < y.ticketTypeId ? -1 : 1));
        if (
          reply.body.status !== 'pending' ||
          reply.body.eventId !== sale.eventId ||
          reply.body.buyerId !== people[r.attempt!.buyer].user.id ||
          reply.body.total !== PRICE * seats(body.items) ||
          JSON.stringify(reply.body.items?.map((i: Record<string, unknown>) => [i.ticketTypeId, i.quantity, i.unitPrice])) !==
            JSON.stringify(sorted.map((i) => [i.ticketTypeId, i.quantity, PRICE]))
        ) {
          fail(`hold answered an order that is not the one asked for: ${reply.text}`);
        }
        return;
      }
      const o = r.order!;
      const want = { pay: 'paid', cancel: 'cancelled', refund: 'refunded' }[a.kind as 'pay' | 'cancel' | 'refund'];
      if (reply.body.id !== o.id || reply.body.status !== want) fail(`${a.kind} answered ${reply.text}`);
      if (a.kind === 'pay' || a.kind === 'refund') {
        const tickets = reply.body.tickets as { status: string; orderId: string }[];
        const ticketStatus = a.kind === 'pay' ? 'valid' : 'void';
        if (tickets?.length !== seats(o.items) || tickets.some((k) => k.status !== ticketStatus || k.orderId !== o.id)) {
          fail(`${a.kind} answered tickets that are not the order's: ${reply.text}`);
        }
      }
    }

    /** Applies a result to the model (the answer was already found to be right). */
    function apply(a: Action, r: Result): void {
      const reply = r.reply;
      if (a.kind === 'hold') {
        r.attempt!.first = { outcome: outcome(reply!), orderId: reply!.status === 201 ? reply!.body.id : undefined };
        attempts.push(r.attempt!);
        if (reply!.status === 201) {
          orders.push({
            id: reply!.body.id,
            buyer: a.buyer,
            items: r.attempt!.body.items,
            status: 'pending',
            due: false,
            paidTimes: 0,
            refundedTimes: 0,
            cancelledTimes: 0,
          });
        }
      }
      if (a.kind === 'replay' && r.attempt!.first.orderId && reply!.body.id !== r.attempt!.first.orderId) {
        fail(`replay answered order ${reply!.body.id}, the first answer was ${r.attempt!.first.orderId}`);
      }
      if (!reply || reply.status >= 300 || !r.order) return;
      if (a.kind === 'pay') r.order.paidTimes++;
      if (a.kind === 'cancel') r.order.cancelledTimes++;
      if (a.kind === 'refund') r.order.refundedTimes++;
    }

    /** Everything the database says now must agree with the model and with the invariants. */
    async function checkTables(context: string): Promise<void> {
      const { rows } = await pg.query<{ id: string; status: Status; due: boolean; paid_in_time: boolean | null }>(
        `SELECT id, status, expires_at <= now() AS due, paid_at < expires_at AS paid_in_time FROM orders WHERE event_id = $1`,
        [sale.eventId],
      );
      for (const o of orders) {
        // Paid while its hold ran, unless its expiry was moved (perhaps after it was paid).
        if (!o.expiryMoved && rows.find((x) => x.id === o.id)?.paid_in_time === false) fail(`${context}: order ${o.id} was paid after its hold expired`);
      }
      if (rows.length !== orders.length) fail(`${context}: ${rows.length} orders in the database, ${orders.length} answered 201`);
      for (const o of orders) {
        const row = rows.find((x) => x.id === o.id);
        if (!row) fail(`${context}: order ${o.id} answered 201 but is not in the database`);
        if (row!.status !== o.status) fail(`${context}: order ${o.id} is ${row!.status}, expected ${o.status}`);
        if (o.status === 'pending' && row!.due !== o.due) fail(`${context}: order ${o.id} due=${row!.due}, expected ${o.due}`);
        if (o.paidTimes > 1 || o.refundedTimes > 1 || o.cancelledTimes > 1 || (o.paidTimes && o.cancelledTimes)) {
          fail(`${context}: order ${o.id} was paid ${o.paidTimes}×, cancelled ${o.cancelledTimes}×, refunded ${o.refundedTimes}× successfully`);
        }
        if ((o.status === 'paid' || o.status === 'refunded') !== (o.paidTimes === 1)) fail(`${context}: order ${o.id} is ${o.status} after ${o.paidTimes} payments answered 200`);
        if ((o.status === 'refunded') !== (o.refundedTimes === 1)) fail(`${context}: order ${o.id} is ${o.status} after ${o.refundedTimes} refunds answered 200`);
        if ((o.status === 'cancelled') !== (o.cancelledTimes === 1)) fail(`${context}: order ${o.id} is ${o.status} after ${o.cancelledTimes} cancellations answered 200`);
      }
      // The counters are exactly what the orders say (refunded seats are back on sale: the event is weeks away).
      const { rows: counters } = await pg.query<{ id: string; capacity: number; sold: number; held: number }>(
        `SELECT id, capacity, sold, held FROM ticket_types WHERE event_id = $1`,
        [sale.eventId],
      );
      for (const tt of types) {
        const c = counters.find((x) => x.id === tt.id)!;
        const seatsIn = (status: Status) =>
          orders.filter((o) => o.status === status).reduce((n, o) => n + (o.items.find((i) => i.ticketTypeId === tt.id)?.quantity ?? 0), 0);
        const want = { capacity: tt.capacity, sold: seatsIn('paid'), held: seatsIn('pending') };
        if (c.capacity !== want.capacity || c.sold !== want.sold || c.held !== want.held) {
          fail(`${context}: ticket type ${tt.id} has ${JSON.stringify(c)}, the orders say ${JSON.stringify(want)}`);
        }
      }
      // The issue's invariants, for this run's ticket types and orders.
      const v = await invariantViolations(pg);
      const ids = new Set(orders.map((o) => o.id));
      const mine = {
        inventory: v.inventory.filter((x) => types.some((tt) => tt.id === x.ticketTypeId)),
        payments: (v.payments as { id: string }[]).filter((x) => ids.has(x.id)),
      };
      if (mine.inventory.length || mine.payments.length) fail(`${context}: invariants violated ${JSON.stringify(mine)}`);
    }

    for (const [n, step] of scenario.steps.entries()) {
      // fast-check gave up waiting for this run (time limit): stop sending requests.
      if (abandoned) return;
      if (step.length === 1) {
        // Alone: the model knows the exact answer.
        const [a] = step;
        const expected = predict(a);
        const pendingDue = orders.filter((o) => o.status === 'pending' && (o.due || (a.kind === 'expire' && o === nth(orders, a.order)))).length;
        let r: Result | undefined;
        try {
          r = await perform(a);
        } catch (error) {
          fail(`#${n} ${JSON.stringify(a)} threw ${(error as Error).stack ?? String(error)}`);
        }
        if (!r) continue;
        log.push(`#${n} ${JSON.stringify(a)} → ${r.reply ? outcome(r.reply) : `released ${r.released}`}`);
        if (r.reply && outcome(r.reply) !== expected) fail(`#${n} ${a.kind}: expected ${expected}, got ${outcome(r.reply)}: ${r.reply.text.slice(0, 300)}`);
        if (r.reply) checkBody(a, r);
        apply(a, r);
        if (a.kind === 'expire' && r.order!.status === 'pending') r.order!.due = true;
        if (r.released !== undefined) {
          if (r.released !== pendingDue) fail(`#${n} the sweep released ${r.released} hold(s), ${pendingDue} were due`);
          for (const o of orders) if (o.status === 'pending' && o.due) Object.assign(o, { status: 'expired', due: false });
        }
        if (r.reply && r.reply.status < 300 && r.order) r.order.status = { pay: 'paid', cancel: 'cancelled', refund: 'refunded' }[a.kind as 'pay']! as Status;
        await checkTables(`after #${n}`);
      } else {
        // Together: each answer must be allowed, and consistent with where its order ended up.
        const before = new Map(orders.map((o) => [o.id, o.status]));
        // Every action is let finish (a failure must not leave requests running into the next run).
        const settled = await Promise.allSettled(step.map((a) => perform(a)));
        const thrown = settled.findIndex((x) => x.status === 'rejected');
        if (thrown >= 0) {
          const error = (settled[thrown] as PromiseRejectedResult).reason as Error;
          fail(`#${n} ${JSON.stringify(step[thrown])} (concurrent) threw ${error?.stack ?? String(error)}`);
        }
        const results = settled.map((x) => (x as PromiseFulfilledResult<Result | undefined>).value);
        log.push(
          `#${n} together: ${step
            .map((a, k) => `${JSON.stringify(a)} → ${results[k] ? (results[k]!.reply ? outcome(results[k]!.reply!) : `released ${results[k]!.released}`) : 'skipped'}`)
            .join(' | ')}`,
        );
        for (const [k, a] of step.entries()) {
          const r = results[k];
          if (!r?.reply) continue;
          if (!allowed(a).includes(outcome(r.reply))) {
            fail(`#${n} ${a.kind} (concurrent): got ${outcome(r.reply)}, allowed ${allowed(a).join(', ')}: ${r.reply.text.slice(0, 300)}`);
          }
          checkBody(a, r);
        }
        for (const [k, a] of step.entries()) if (results[k]) apply(a, results[k]!);
        // Where every order is now, from the database; the answers above must agree with it (checkTables).
        const { rows } = await pg.query<{ id: string; status: Status; due: boolean }>(
          `SELECT id, status, expires_at <= now() AS due FROM orders WHERE event_id = $1`,
          [sale.eventId],
        );
        for (const o of orders) {
          const row = rows.find((x) => x.id === o.id);
          if (!row) fail(`#${n}: order ${o.id} answered 201 but is not in the database`);
          const was = before.get(o.id) ?? 'pending';
          if (!REACHABLE[was].includes(row!.status)) fail(`#${n}: order ${o.id} went from ${was} to ${row!.status}`);
          o.status = row!.status;
          o.due = o.status === 'pending' && row!.due;
        }
        await checkTables(`after #${n}`);
      }
    }
    // Finally every due hold goes, exactly those.
    const due = orders.filter((o) => o.status === 'pending' && o.due);
    const released = await worker.releaseExpiredHolds();
    if (released !== due.length) fail(`the final sweep released ${released} hold(s), ${due.length} were due`);
    for (const o of due) Object.assign(o, { status: 'expired', due: false });
    await checkTables('after the final sweep');
  }

  let current: Promise<void> | undefined;
  let abandoned = false;

  it('keeps the invariants and answers within the contract, whatever the interleaving', async () => {
    try {
      await fc.assert(
        fc.asyncProperty(scenarioArb, async (scenario) => {
          current = runScenario(scenario);
          await current;
        }),
        // Runs stop being started after 45 s (a busy machine, or a long shrink): fewer runs, still a verdict.
        { numRuns: 120, interruptAfterTimeLimit: 45_000, markInterruptAsFailure: false },
      );
    } finally {
      abandoned = true;
      await current?.catch(() => undefined);
    }
    // And across everything every run left behind.
    expect(await invariantViolations(pg)).toEqual({ inventory: [], payments: [] });
  }, 90_000);
});
