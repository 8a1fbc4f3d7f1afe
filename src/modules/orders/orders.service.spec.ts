import { NotFoundError, ValidationFailedError } from '../../common/domain-error';
import { HoldDiagnosis } from './orders.repository';
import { QuantityLimitError, refusalFor, SalesClosedError, SoldOutError } from './orders.service';

const TT1 = '11111111-1111-4111-8111-111111111111';
const TT2 = '22222222-2222-4222-8222-222222222222';

const item = (ticketTypeId: string, over: Partial<HoldDiagnosis['items'][number]> = {}) => ({
  ticketTypeId,
  found: true,
  onSale: true,
  maxPerOrder: 10,
  available: 100,
  ...over,
});
const diagnosis = (items: HoldDiagnosis['items'], over: Partial<HoldDiagnosis> = {}): HoldDiagnosis => ({
  eventFound: true,
  eventStatus: 'published',
  now: new Date(),
  items,
  ...over,
});
const input = (...quantities: number[]) => ({
  eventId: 'e',
  items: quantities.map((quantity, i) => ({ ticketTypeId: [TT1, TT2][i], quantity })),
});

describe('why a hold was refused', () => {
  it('is a 404 for an event that does not exist', () => {
    expect(refusalFor(diagnosis([item(TT1)], { eventFound: false, eventStatus: null }), input(1))).toBeInstanceOf(NotFoundError);
  });

  it('is SALES_CLOSED for a draft or cancelled event, before any per-item reason', () => {
    for (const eventStatus of ['draft', 'cancelled']) {
      const error = refusalFor(diagnosis([item(TT1, { available: 0 })], { eventStatus }), input(50));
      expect(error).toBeInstanceOf(SalesClosedError);
      expect(error.code).toBe('SALES_CLOSED');
    }
  });

  it('names the item whose ticket type is not the event\'s, by its index in the request', () => {
    const error = refusalFor(diagnosis([item(TT1), item(TT2, { found: false })]), input(1, 1));
    expect(error).toBeInstanceOf(ValidationFailedError);
    expect(error.extras.errors).toEqual([{ field: 'items.1.ticketTypeId', message: 'is not a ticket type of this event' }]);
  });

  it('puts the sales window before the quantity limit, and the limit before seats', () => {
    expect(refusalFor(diagnosis([item(TT1, { onSale: false, available: 0 })]), input(50))).toBeInstanceOf(SalesClosedError);
    const limit = refusalFor(diagnosis([item(TT1, { maxPerOrder: 4, available: 0 })]), input(5));
    expect(limit).toBeInstanceOf(QuantityLimitError);
    expect(limit.extras).toEqual({ limits: [{ ticketTypeId: TT1, maxPerOrder: 4 }] });
  });

  it('is SOLD_OUT otherwise, with what is left of each ticket type (never below zero)', () => {
    const error = refusalFor(diagnosis([item(TT1, { available: 1 }), item(TT2, { available: -1 })]), input(2, 1));
    expect(error).toBeInstanceOf(SoldOutError);
    expect(error.code).toBe('SOLD_OUT');
    expect(error.extras).toEqual({ available: [{ ticketTypeId: TT1, available: 1 }, { ticketTypeId: TT2, available: 0 }] });
  });
});
