import { startTestApp, TestApp, uniqueEmail } from '../support/app';
import { call, register, Session } from '../support/http';
import { CHEAP_HASHING, expectFieldError, expectProblem } from '../support/problems';
import { StripeStandIn } from '../support/stripe-stand-in';

/**
 * Issue 15, "Amounts Stripe can charge": with PAYMENT_GATEWAY=stripe, a currency or a price Stripe
 * cannot charge is refused when it is set (`400 VALIDATION_FAILED` naming the field, nothing
 * changed), so no checkout ever meets it. Stripe's table, not ISO 4217's, decides.
 */

const DAY = 86_400_000;
const at = (days: number, hours = 0) => new Date(Date.now() + days * DAY + hours * 3_600_000).toISOString();

const eventBody = (currency: string) => ({
  title: 'Jazz à Carthage',
  description: 'Three nights of jazz by the sea.',
  category: 'concert',
  venue: { name: 'Amphithéâtre de Carthage', city: 'Tunis', address: 'Carthage' },
  startsAt: at(30),
  endsAt: at(30, 3),
  timezone: 'Africa/Tunis',
  currency,
});

describe('prices Stripe cannot charge are refused when set (PAYMENT_GATEWAY=stripe)', () => {
  let standIn: StripeStandIn;
  let t: TestApp;
  let owner: Session;

  beforeAll(async () => {
    standIn = new StripeStandIn();
    const { url } = await standIn.start();
    t = await startTestApp({
      ...CHEAP_HASHING,
      PAYMENT_GATEWAY: 'stripe',
      STRIPE_SECRET_KEY: standIn.apiKey,
      STRIPE_PUBLISHABLE_KEY: 'pk_test_standin',
      STRIPE_WEBHOOK_SECRET: standIn.webhookSecret,
      STRIPE_API_URL: url,
    });
    owner = await register(t.url, { email: uniqueEmail('owner'), role: 'organiser' });
  });
  afterAll(async () => {
    await t?.close();
    await standIn?.stop();
  });

  const createEvent = (currency: string) => call(t.url, 'POST', '/v1/events', { token: owner.accessToken, body: eventBody(currency) });
  const draft = async (currency: string) => (await call(t.url, 'POST', '/v1/events', { token: owner.accessToken, body: eventBody(currency), expect: 201 })).body;
  const addTicketType = (eventId: string, price: number) =>
    call(t.url, 'POST', `/v1/events/${eventId}/ticket-types`, { token: owner.accessToken, body: { name: 'General admission', price, capacity: 100 } });
  const eventOf = async (id: string) => (await call(t.url, 'GET', `/v1/events/${id}`, { token: owner.accessToken, expect: 200 })).body;
  const ownEvents = async () => (await call(t.url, 'GET', '/v1/organiser/events?limit=100', { token: owner.accessToken, expect: 200 })).body.items;

  it('an event in an ISO 4217 currency Stripe does not charge in is refused, and not created', async () => {
    const before = (await ownEvents()).length;
    for (const currency of ['IQD', 'LYD', 'SYP']) {
      const res = await createEvent(currency);
      expectFieldError(res, 'currency');
    }
    expect(await ownEvents()).toHaveLength(before);
    expect((await createEvent('TND')).status).toBe(201);
  });

  it('a ticket type price Stripe cannot charge in the event currency is refused, with the price named', async () => {
    const cases: [string, number, number][] = [
      // currency, a price Stripe refuses, one it takes
      ['TND', 45_005, 45_000], // three decimals: multiples of 10 only
      ['EUR', 49, 50], // below Stripe's minimum
      ['JPY', 49, 50],
      ['MGA', 250_050, 250_000], // zero-decimal at Stripe, hundredths in ISO 4217
      ['ISK', 1_000_000, 999_999], // hundredths at Stripe: at most eight digits of them
    ];
    for (const [currency, refused, accepted] of cases) {
      const event = await draft(currency);
      const res = await addTicketType(event.id, refused);
      expectFieldError(res, 'price');
      expect((await eventOf(event.id)).ticketTypes).toEqual([]);
      expect((await addTicketType(event.id, accepted)).status).toBe(201);
    }
  });

  it('editing a ticket type to such a price is refused and changes nothing', async () => {
    const event = await draft('TND');
    const ticketType = (await addTicketType(event.id, 45_000)).body;
    const res = await call(t.url, 'PATCH', `/v1/events/${event.id}/ticket-types/${ticketType.id}`, {
      token: owner.accessToken,
      body: { price: 45_005, capacity: 150 },
    });
    expectFieldError(res, 'price');
    expect((await eventOf(event.id)).ticketTypes[0]).toMatchObject({ price: 45_000, capacity: 100 });
    const ok = await call(t.url, 'PATCH', `/v1/events/${event.id}/ticket-types/${ticketType.id}`, { token: owner.accessToken, body: { price: 45_010 } });
    expect(ok.status).toBe(200);
  });

  it('editing the currency to one Stripe cannot charge is refused and changes nothing, with or without ticket types', async () => {
    const empty = await draft('EUR');
    const res = await call(t.url, 'PATCH', `/v1/events/${empty.id}`, { token: owner.accessToken, body: { currency: 'IQD', title: 'Renamed' } });
    expectFieldError(res, 'currency');
    expect(await eventOf(empty.id)).toMatchObject({ currency: 'EUR', title: 'Jazz à Carthage' });
    const moved = await call(t.url, 'PATCH', `/v1/events/${empty.id}`, { token: owner.accessToken, body: { currency: 'JPY' } });
    expect(moved.status).toBe(200);

    const priced = await draft('TND');
    await addTicketType(priced.id, 45_000);
    const refused = await call(t.url, 'PATCH', `/v1/events/${priced.id}`, { token: owner.accessToken, body: { currency: 'LYD' } });
    expectFieldError(refused, 'currency');
    expect(await eventOf(priced.id)).toMatchObject({ currency: 'TND', ticketTypes: [expect.objectContaining({ price: 45_000 })] });
    // A currency Stripe takes is still locked by the prices in the old one.
    const locked = await call(t.url, 'PATCH', `/v1/events/${priced.id}`, { token: owner.accessToken, body: { currency: 'EUR' } });
    expectProblem(locked, 409, 'CURRENCY_LOCKED');
  });

  it('asks Stripe nothing to decide: the table is the adapter’s own', () => {
    expect(standIn.requests).toEqual([]);
  });
});
