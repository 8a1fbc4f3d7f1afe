import {
  assertCancellable,
  assertPayable,
  assertRefundable,
  canTransition,
  HoldExpiredError,
  isExpiredHold,
  isRefundDecided,
  ORDER_STATUSES,
  OrderNotPaidError,
  OrderNotPendingError,
  OrderStatus,
  orderTotal,
  RefundWindowClosedError,
  TicketStatus,
  TicketUsedError,
  toOrderView,
} from './order.model';

const now = new Date('2026-11-22T10:00:00Z');
const later = new Date('2026-11-22T10:05:00Z');
const earlier = new Date('2026-11-22T09:55:00Z');

describe('order state machine', () => {
  const allowed: [OrderStatus, OrderStatus][] = [
    ['pending', 'paid'],
    ['pending', 'cancelled'],
    ['pending', 'expired'],
    ['paid', 'refunded'],
  ];

  it('allows exactly pending → paid/cancelled/expired and paid → refunded', () => {
    for (const from of ORDER_STATUSES) {
      for (const to of ORDER_STATUSES) {
        const expected = allowed.some(([f, t]) => f === from && t === to);
        expect({ from, to, allowed: canTransition(from, to) }).toEqual({ from, to, allowed: expected });
      }
    }
  });

  it('treats cancelled, expired and refunded as final', () => {
    for (const final of ['cancelled', 'expired', 'refunded'] as const) {
      expect(ORDER_STATUSES.filter((to) => canTransition(final, to))).toEqual([]);
    }
  });

  describe('paying', () => {
    it('accepts a pending order before its expiry', () => {
      expect(() => assertPayable({ status: 'pending', expiresAt: later }, now)).not.toThrow();
    });

    it('refuses a pending order at or past its expiry with HOLD_EXPIRED, even before the sweeper ran', () => {
      expect(() => assertPayable({ status: 'pending', expiresAt: now }, now)).toThrow(HoldExpiredError);
      expect(() => assertPayable({ status: 'pending', expiresAt: earlier }, now)).toThrow(HoldExpiredError);
      expect(isExpiredHold({ status: 'pending', expiresAt: earlier }, now)).toBe(true);
    });

    it('answers HOLD_EXPIRED for an expired order and ORDER_NOT_PENDING for the other states', () => {
      expect(() => assertPayable({ status: 'expired', expiresAt: earlier }, now)).toThrow(HoldExpiredError);
      for (const status of ['paid', 'cancelled', 'refunded'] as const) {
        expect(() => assertPayable({ status, expiresAt: later }, now)).toThrow(OrderNotPendingError);
      }
    });

    it('carries the stable codes of the contract', () => {
      expect(new HoldExpiredError(earlier)).toMatchObject({ kind: 'conflict', code: 'HOLD_EXPIRED' });
      expect(new OrderNotPendingError('paid')).toMatchObject({ kind: 'conflict', code: 'ORDER_NOT_PENDING' });
      expect(new OrderNotPaidError('pending')).toMatchObject({ kind: 'conflict', code: 'ORDER_NOT_PAID' });
    });
  });

  it('lets only a pending order be cancelled, a due one included', () => {
    expect(() => assertCancellable({ status: 'pending' })).not.toThrow();
    for (const status of ['paid', 'cancelled', 'expired', 'refunded'] as const) {
      expect(() => assertCancellable({ status })).toThrow(OrderNotPendingError);
    }
  });

  describe('refunding', () => {
    it('refuses anything but a paid order, whoever asks', () => {
      for (const status of ['pending', 'cancelled', 'expired', 'refunded'] as const) {
        for (const by of ['buyer', 'organiser', 'system'] as const) {
          expect(() => assertRefundable({ status }, by, later, now)).toThrow(OrderNotPaidError);
        }
      }
    });

    it('lets the buyer refund until the event starts, the organiser and the system at any time', () => {
      expect(() => assertRefundable({ status: 'paid' }, 'buyer', later, now)).not.toThrow();
      expect(() => assertRefundable({ status: 'paid' }, 'buyer', now, now)).toThrow(RefundWindowClosedError);
      expect(() => assertRefundable({ status: 'paid' }, 'buyer', earlier, now)).toThrow(RefundWindowClosedError);
      expect(() => assertRefundable({ status: 'paid' }, 'organiser', earlier, now)).not.toThrow();
      expect(() => assertRefundable({ status: 'paid' }, 'system', earlier, now)).not.toThrow();
    });

    describe('once a ticket has been used at the door', () => {
      const ticket = (id: string, status: TicketStatus, checkedInAt: Date | null) => ({ id, status, checkedInAt });
      const entered = new Date('2026-06-01T18:00:00.000Z');
      const second = new Date('2026-06-01T18:05:00.000Z');
      const used = { status: 'paid' as const, tickets: [ticket('t1', 'valid', null), ticket('t2', 'checked_in', second), ticket('t3', 'checked_in', entered)] };

      it('refuses the buyer with 409 TICKET_USED, naming the used tickets and the first entry', () => {
        let refused: unknown;
        try {
          assertRefundable(used, 'buyer', later, now);
        } catch (error) {
          refused = error;
        }
        expect(refused).toBeInstanceOf(TicketUsedError);
        expect(refused).toMatchObject({
          kind: 'conflict',
          code: 'TICKET_USED',
          extras: {
            checkedInAt: entered.toISOString(),
            tickets: [
              { id: 't2', checkedInAt: second.toISOString() },
              { id: 't3', checkedInAt: entered.toISOString() },
            ],
          },
        });
      });

      it('lets the organiser and the system refund it still', () => {
        expect(() => assertRefundable(used, 'organiser', later, now)).not.toThrow();
        expect(() => assertRefundable(used, 'system', earlier, now)).not.toThrow();
      });

      it('lets the buyer refund while no ticket has been used', () => {
        const unused = { status: 'paid' as const, tickets: [ticket('t1', 'valid', null), ticket('t2', 'valid', null)] };
        expect(() => assertRefundable(unused, 'buyer', later, now)).not.toThrow();
      });

      it('keeps the closed window first: after the start the buyer hears REFUND_WINDOW_CLOSED', () => {
        expect(() => assertRefundable(used, 'buyer', earlier, now)).toThrow(RefundWindowClosedError);
      });

      it('does not judge again a refund already decided (every ticket void, the order still paid)', () => {
        const decided = { status: 'paid' as const, tickets: [ticket('t1', 'void', entered), ticket('t2', 'void', null)] };
        expect(isRefundDecided(decided)).toBe(true);
        expect(() => assertRefundable(decided, 'buyer', earlier, now)).not.toThrow();
        expect(isRefundDecided(used)).toBe(false);
        expect(isRefundDecided({ status: 'paid', tickets: [] })).toBe(false);
        expect(isRefundDecided({ status: 'refunded', tickets: decided.tickets })).toBe(false);
        expect(() => assertRefundable({ status: 'refunded', tickets: decided.tickets }, 'buyer', later, now)).toThrow(OrderNotPaidError);
      });
    });
  });
});

describe('order money', () => {
  it('sums quantity × unit price in minor units', () => {
    expect(orderTotal([{ quantity: 2, unitPrice: 45_000 }, { quantity: 1, unitPrice: 1_500 }])).toBe(91_500);
  });

  it('stays exact at the largest order the limits allow (50 types × 100 seats × 1e9 minor units)', () => {
    const items = Array.from({ length: 50 }, () => ({ quantity: 100, unitPrice: 1_000_000_000 }));
    expect(orderTotal(items)).toBe(5_000_000_000_000);
  });

  it('refuses amounts that are not positive integers rather than round them', () => {
    expect(() => orderTotal([{ quantity: 1, unitPrice: 10.5 }])).toThrow(RangeError);
    expect(() => orderTotal([{ quantity: 0, unitPrice: 10 }])).toThrow(RangeError);
    expect(() => orderTotal([{ quantity: 1, unitPrice: -10 }])).toThrow(RangeError);
    expect(() => orderTotal([{ quantity: 100, unitPrice: Number.MAX_SAFE_INTEGER }])).toThrow(RangeError);
  });

  it('shows paidAt only once paid and times as ISO strings', () => {
    const base = {
      id: 'o',
      buyerId: 'b',
      eventId: 'e',
      items: [{ ticketTypeId: 't', quantity: 1, unitPrice: 100 }],
      total: 100,
      currency: 'TND',
      expiresAt: later,
      createdAt: now,
    };
    expect(toOrderView({ ...base, status: 'pending', paidAt: null })).not.toHaveProperty('paidAt');
    expect(toOrderView({ ...base, status: 'paid', paidAt: now })).toMatchObject({
      paidAt: now.toISOString(),
      expiresAt: later.toISOString(),
    });
  });
});
