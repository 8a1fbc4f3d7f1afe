import { DomainError } from '../../common/domain-error';
import type { InventoryLock } from '../events/ticket-inventory.service';
import { batchKey, canonical, decideBatch, firstPerKey, HoldRequest, replayOf, requestHash, seatsOf } from './hold-batch';
import { keyId } from './idempotency.repository';
import { Order, toOrderView } from './order.model';

const TT1 = '11111111-1111-4111-8111-111111111111';
const TT2 = '22222222-2222-4222-8222-222222222222';
const NOW = new Date('2030-06-01T12:00:00.000Z');

const lock = (capacity1: number, capacity2 = 10): InventoryLock => ({
  now: NOW,
  event: { id: 'e', status: 'published', currency: 'EUR', endsAt: new Date(NOW.getTime() + 86_400_000) },
  ticketTypes: [
    { id: TT1, price: 1_000, capacity: capacity1, sold: 0, held: 0, maxPerOrder: 5, salesStartAt: null, salesEndAt: null },
    { id: TT2, price: 2_500, capacity: capacity2, sold: 0, held: 0, maxPerOrder: 5, salesStartAt: null, salesEndAt: null },
  ],
});
const request = (key: string, ...items: [string, number][]): HoldRequest => {
  const input = { eventId: 'e', items: items.map(([ticketTypeId, quantity]) => ({ ticketTypeId, quantity })) };
  return { buyerId: 'b', key, hash: requestHash(input), input };
};

describe('a hold batch', () => {
  it('decides in arrival order against the seats the earlier requests took, all or nothing per request', () => {
    const { orders, outcomes, answers } = decideBatch(
      lock(3),
      [request('k1', [TT1, 2]), request('k2', [TT2, 1], [TT1, 2]), request('k3', [TT1, 1], [TT2, 4]), request('k4', [TT1, 6])],
      600,
    );
    expect(orders.map((o) => o.items)).toEqual([
      [{ ticketTypeId: TT1, quantity: 2, unitPrice: 1_000 }],
      [
        { ticketTypeId: TT1, quantity: 1, unitPrice: 1_000 },
        { ticketTypeId: TT2, quantity: 4, unitPrice: 2_500 },
      ],
    ]);
    expect(orders[1]).toMatchObject({ total: 11_000, currency: 'EUR', createdAt: NOW, expiresAt: new Date(NOW.getTime() + 600_000), status: 'pending' });
    expect(outcomes.map((o) => [o.key, o.status, 'orderId' in o.outcome ? 'order' : o.outcome.refusal.code])).toEqual([
      ['k1', 201, 'order'],
      ['k2', 409, 'SOLD_OUT'],
      ['k3', 201, 'order'],
      ['k4', 422, 'QUANTITY_LIMIT'],
    ]);
    const k2 = answers.get(keyId('b', 'k2'))!;
    expect('refusal' in k2.result && k2.result.refusal.extras).toEqual({
      available: [
        { ticketTypeId: TT2, available: 10 },
        { ticketTypeId: TT1, available: 1 },
      ],
    });
    expect(answers.get(keyId('b', 'k1'))).toEqual({ requestHash: request('k1', [TT1, 2]).hash, replayed: false, result: { order: toOrderView(orders[0]) } });
    expect(seatsOf(orders)).toEqual([
      { ticketTypeId: TT1, seats: 3 },
      { ticketTypeId: TT2, seats: 4 },
    ]);
  });

  it('batches requests by event and set of ticket types, whatever their order and case', () => {
    const one = canonical({ eventId: 'E', items: [{ ticketTypeId: TT2.toUpperCase(), quantity: 1 }, { ticketTypeId: TT1, quantity: 2 }] });
    const two = canonical({ eventId: 'e', items: [{ ticketTypeId: TT1, quantity: 1 }, { ticketTypeId: TT2, quantity: 1 }] });
    expect(batchKey(one)).toBe(batchKey(two));
    expect(batchKey(one)).not.toBe(batchKey({ eventId: 'e', items: [{ ticketTypeId: TT1, quantity: 1 }] }));
    expect(requestHash(one)).not.toBe(requestHash(two));
  });

  it('answers a key twice in one batch from its first request', () => {
    const first = request('k', [TT1, 1]);
    expect([...firstPerKey([first, request('k', [TT1, 2]), request('other', [TT1, 1])]).values()].map((r) => r.input.items[0].quantity)).toEqual([1, 1]);
    expect(firstPerKey([first, request('k', [TT1, 2])]).get(keyId('b', 'k'))).toBe(first);
  });
});

describe('a replay', () => {
  const placed: Order = {
    id: 'o1',
    buyerId: 'b',
    eventId: 'e',
    status: 'pending',
    items: [{ ticketTypeId: TT1, quantity: 1, unitPrice: 1_000 }],
    total: 1_000,
    currency: 'EUR',
    createdAt: NOW,
    expiresAt: new Date(NOW.getTime() + 600_000),
    paidAt: null,
  };

  it('renders a stored order with the current view, and a stored refusal as the same error', () => {
    expect(replayOf({ requestHash: 'h', outcome: { orderId: 'o1' } }, new Map([['o1', placed]]))).toEqual({
      requestHash: 'h',
      replayed: true,
      result: { order: toOrderView(placed) },
    });
    const refused = replayOf({ requestHash: 'h', outcome: { refusal: { kind: 'conflict', code: 'SOLD_OUT', message: 'm', extras: { available: [] } } } }, new Map());
    expect('refusal' in refused.result && refused.result.refusal).toEqual(new DomainError('conflict', 'SOLD_OUT', 'm', { available: [] }));
    expect(() => replayOf({ requestHash: 'h', outcome: { orderId: 'gone' } }, new Map())).toThrow(/gone/);
  });

  it('answers an old-shape key with the HTTP answer it stored', () => {
    const body = { ...toOrderView(placed), extra: 'as stored' };
    expect(replayOf({ requestHash: 'h', legacy: { status: 201, body } }, new Map()).result).toEqual({ order: body });
    const refused = replayOf({ requestHash: 'h', legacy: { status: 422, body: { kind: 'rule_violation', code: 'QUANTITY_LIMIT', message: 'm', extras: { limits: [] } } } }, new Map());
    expect('refusal' in refused.result && refused.result.refusal).toMatchObject({ kind: 'rule_violation', code: 'QUANTITY_LIMIT', message: 'm', extras: { limits: [] } });
  });
});
