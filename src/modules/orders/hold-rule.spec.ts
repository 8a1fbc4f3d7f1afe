import { NotFoundError, ValidationFailedError } from '../../common/domain-error';
import type { InventoryLock, LockedTicketType } from '../events/ticket-inventory.service';
import fc from 'fast-check';
import { decideBatch, HoldRequest } from './hold-batch';
import { BuyerLimitError, decideHold, HoldDecision, QuantityLimitError, SalesClosedError, SoldOutError, TooManyPendingOrdersError } from './hold-rule';

const TT1 = '11111111-1111-4111-8111-111111111111';
const TT2 = '22222222-2222-4222-8222-222222222222';
const NOW = new Date('2030-06-01T12:00:00.000Z');
const HOUR = 3_600_000;

const type = (id: string, over: Partial<LockedTicketType> = {}): LockedTicketType => ({
  id,
  price: 1_000,
  capacity: 100,
  sold: 0,
  held: 0,
  maxPerOrder: 10,
  salesStartAt: null,
  salesEndAt: null,
  ...over,
});
const lock = (ticketTypes: LockedTicketType[], over: Partial<InventoryLock> = {}): InventoryLock => ({
  now: NOW,
  event: { id: 'e', status: 'published', currency: 'EUR', endsAt: new Date(NOW.getTime() + 24 * HOUR) },
  ticketTypes,
  ...over,
});
const items = (...quantities: number[]) => quantities.map((quantity, i) => ({ ticketTypeId: [TT1, TT2][i], quantity }));
const refusal = (decision: HoldDecision) => {
  if (decision.accepted) throw new Error('expected a refusal');
  return decision.refusal;
};

describe('decideHold', () => {
  it('accepts what fits: published, in the window, within the limit, seats left', () => {
    expect(decideHold(lock([type(TT1), type(TT2)]), items(10, 3))).toEqual({ accepted: true });
    expect(decideHold(lock([type(TT1, { capacity: 5, sold: 2, held: 1 })]), items(2))).toEqual({ accepted: true });
  });

  it('is a 404 for an event that does not exist, before anything else', () => {
    expect(refusal(decideHold(lock([], { event: undefined }), items(50)))).toBeInstanceOf(NotFoundError);
  });

  it('is SALES_CLOSED for a draft or cancelled event, before any per-item reason', () => {
    for (const status of ['draft', 'cancelled']) {
      const error = refusal(decideHold(lock([type(TT1, { held: 100 })], { event: { ...lock([]).event!, status } }), items(50)));
      expect(error).toBeInstanceOf(SalesClosedError);
      expect(error.code).toBe('SALES_CLOSED');
      expect(error.message).toBe(`The event is ${status}; it is not on sale.`);
    }
  });

  it("names the item whose ticket type is not the event's, by its index in the request", () => {
    const error = refusal(decideHold(lock([type(TT1)]), items(1, 1)));
    expect(error).toBeInstanceOf(ValidationFailedError);
    expect(error.extras.errors).toEqual([{ field: 'items.1.ticketTypeId', message: 'is not a ticket type of this event' }]);
  });

  it('puts the sales window before the quantity limit, and the limit before seats', () => {
    const notYet = type(TT1, { salesStartAt: new Date(NOW.getTime() + 1), held: 100 });
    expect(refusal(decideHold(lock([notYet]), items(50)))).toBeInstanceOf(SalesClosedError);
    const limit = refusal(decideHold(lock([type(TT1, { maxPerOrder: 4, held: 100 })]), items(5)));
    expect(limit).toBeInstanceOf(QuantityLimitError);
    expect(limit.extras).toEqual({ limits: [{ ticketTypeId: TT1, maxPerOrder: 4 }] });
  });

  it('reads the sales window by the locked clock: open from its start, closed at its end (or the event end)', () => {
    const at = (over: Partial<LockedTicketType>, endsAt = new Date(NOW.getTime() + HOUR)) =>
      decideHold(lock([type(TT1, over)], { event: { id: 'e', status: 'published', currency: 'EUR', endsAt } }), items(1)).accepted;
    expect(at({ salesStartAt: NOW })).toBe(true);
    expect(at({ salesStartAt: new Date(NOW.getTime() + 1) })).toBe(false);
    expect(at({ salesEndAt: NOW })).toBe(false);
    expect(at({ salesEndAt: new Date(NOW.getTime() + 1) })).toBe(true);
    expect(at({}, NOW)).toBe(false);
    expect(at({ salesEndAt: new Date(NOW.getTime() + HOUR) }, new Date(NOW.getTime() - HOUR))).toBe(true);
  });

  it('is SOLD_OUT otherwise, with what is left of each ticket type (never below zero)', () => {
    const error = refusal(decideHold(lock([type(TT1, { capacity: 1 }), type(TT2, { capacity: 3, sold: 3, held: 1 })]), items(2, 1)));
    expect(error).toBeInstanceOf(SoldOutError);
    expect(error.code).toBe('SOLD_OUT');
    expect(error.extras).toEqual({ available: [{ ticketTypeId: TT1, available: 1 }, { ticketTypeId: TT2, available: 0 }] });
  });

  it('counts the seats earlier requests of the same transaction took', () => {
    const state = lock([type(TT1, { capacity: 5 }), type(TT2, { capacity: 5 })]);
    expect(decideHold(state, items(3, 3), new Map([[TT2, 2]]))).toEqual({ accepted: true });
    const error = refusal(decideHold(state, items(3, 3), new Map([[TT2, 3]])));
    expect(error.extras).toEqual({ available: [{ ticketTypeId: TT1, available: 5 }, { ticketTypeId: TT2, available: 2 }] });
  });

  it('holds all or nothing: one ticket type short refuses the whole order', () => {
    expect(decideHold(lock([type(TT1), type(TT2, { capacity: 2 })]), items(1, 3)).accepted).toBe(false);
  });
});

describe('decideHold, per-buyer caps', () => {
  const holdings = (pendingOrders: number, tickets: [string, number][] = []) => ({ pendingOrders, tickets: new Map(tickets) });

  it('counts what the buyer holds (paid and pending) plus the request against maxPerBuyer', () => {
    const capped = lock([type(TT1, { maxPerBuyer: 4 }), type(TT2)]);
    expect(decideHold(capped, items(2, 9), new Map(), { holdings: holdings(1, [[TT1, 2]]), maxPendingOrders: 2 })).toEqual({ accepted: true });
    const over = refusal(decideHold(capped, items(3), new Map(), { holdings: holdings(0, [[TT1, 2]]), maxPendingOrders: 2 }));
    expect(over).toBeInstanceOf(BuyerLimitError);
    expect(over.extras).toEqual({ limits: [{ ticketTypeId: TT1, maxPerBuyer: 4, held: 2 }] });
    // No cap (null or absent) counts nothing.
    expect(decideHold(lock([type(TT1, { maxPerBuyer: null })]), items(10), new Map(), { holdings: holdings(0, [[TT1, 500]]), maxPendingOrders: 2 }).accepted).toBe(true);
  });

  it('refuses one pending order more than the limit (409), before the cap and the seats; Infinity for a hold that is paid at once', () => {
    const full = lock([type(TT1, { maxPerBuyer: 1, capacity: 0 })]);
    expect(refusal(decideHold(full, items(5), new Map(), { holdings: holdings(2), maxPendingOrders: 2 }))).toBeInstanceOf(TooManyPendingOrdersError);
    expect(refusal(decideHold(full, items(5), new Map(), { holdings: holdings(2), maxPendingOrders: Infinity }))).toBeInstanceOf(BuyerLimitError);
  });

  it('a batch never takes a buyer past either cap, whatever the requests (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.record({ buyer: fc.integer({ min: 0, max: 3 }), quantity: fc.integer({ min: 1, max: 4 }) }), { maxLength: 30 }),
        fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 4, maxLength: 4 }),
        (maxPerBuyer, maxPendingOrders, asks, before) => {
          const state = lock([type(TT1, { maxPerBuyer, capacity: 1_000 })]);
          const requests: HoldRequest[] = asks.map((a, i) => ({
            buyerId: `b${a.buyer}`,
            key: `k${i}`,
            hash: 'h',
            input: { eventId: 'e', items: [{ ticketTypeId: TT1, quantity: a.quantity }] },
          }));
          const held = new Map(before.map((n, b) => [`b${b}`, holdings(0, [[TT1, Math.min(n, maxPerBuyer)]])]));
          const decided = decideBatch(state, requests, 600, { holdings: held, maxPendingOrders });
          for (const [b, start] of held) {
            const mine = decided.orders.filter((o) => o.buyerId === b);
            const tickets = (start.tickets.get(TT1) ?? 0) + mine.reduce((n, o) => n + o.items[0].quantity, 0);
            expect(tickets).toBeLessThanOrEqual(maxPerBuyer);
            expect(mine.length).toBeLessThanOrEqual(maxPendingOrders);
            if (mine.length > 0) expect(decided.holdings.get(b)).toEqual(holdings(mine.length, [[TT1, tickets]]));
          }
          // Every request is answered: accepted or refused.
          expect(decided.orders.length + [...decided.answers.values()].filter((a) => 'refusal' in a.result).length).toBe(requests.length);
        },
      ),
    );
  });
});
