import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { startTestApp, TestApp, uniqueEmail } from '../support/app';
import { call, register, Session } from '../support/http';
import { buyers, organiser, paidOrder, placeOrder, sellableEvent } from '../support/orders';
import { outboxSettled } from '../support/messages';
import { waitFor } from '../support/ports';
import { CHEAP_HASHING } from '../support/problems';

/**
 * API.md "Notifications": each template goes to the right person after the right action, exactly
 * once per cause, through the outbox (never inside the request), with EMAIL_DRIVER=file.
 */

interface EmailFile {
  id: string;
  to: string;
  template: string;
  subject: string;
  data: any;
  sentAt: string;
}

describe('notifications', () => {
  let t: TestApp;
  let db: Client;
  let dir: string;
  let owner: Session;

  const emails = (): EmailFile[] =>
    readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as EmailFile);
  const emailsTo = (to: string, template: string) => emails().filter((e) => e.to === to && e.template === template);
  const outboxRows = async (cause: string) =>
    (await db.query(`SELECT channel, template, recipient, status, payload FROM outbox WHERE cause = $1 ORDER BY channel`, [cause])).rows;
  const settled = () => outboxSettled(db);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tickr-emails-'));
    t = await startTestApp({ ...CHEAP_HASHING, EMAIL_DRIVER: 'file', EMAIL_FILE_DIR: dir, OUTBOX_POLL_INTERVAL_MS: '100' });
    db = new Client({ connectionString: t.db.url });
    await db.connect();
    owner = await organiser(t.url);
  });
  afterAll(async () => {
    await db?.end();
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('event-published goes to the organiser once, however often publish is called', async () => {
    const s = await sellableEvent(t.url, owner, [{ name: 'Balcony', price: 45_000, capacity: 80 }], {
      title: 'Malouf Night',
      startsAt: '2027-03-13T19:00:00Z',
      endsAt: '2027-03-13T22:00:00Z',
    });
    expect((await call(t.url, 'POST', `/v1/events/${s.eventId}/publish`, { token: owner.accessToken })).status).toBe(200);
    await settled();
    const sent = emailsTo(owner.user.email, 'event-published').filter((e) => e.data.event.id === s.eventId);
    expect(sent).toHaveLength(1);
    expect(sent[0].subject).toContain('Malouf Night');
    expect(sent[0].data).toMatchObject({
      organiserName: owner.user.name,
      event: { id: s.eventId, title: 'Malouf Night', startsAtLocal: 'Saturday 13 March 2027, 20:00 (Africa/Tunis)', timezone: 'Africa/Tunis' },
      ticketTypes: [{ name: 'Balcony', priceFormatted: expect.stringMatching(/45\.000/), capacity: 80 }],
    });
    expect(await outboxRows(`event-published:${s.eventId}`)).toEqual([expect.objectContaining({ channel: 'email', status: 'sent', recipient: owner.user.email })]);
  });

  it('ticket-confirmation goes to the buyer after payment, by e-mail with the codes and QR codes, and by SMS when the buyer has a verified phone', async () => {
    const s = await sellableEvent(t.url, owner, [{ price: 45_000, capacity: 50 }], { title: 'Jazz à Carthage' });
    const withPhone = await register(t.url, { email: uniqueEmail('phone'), role: 'buyer', phone: '+21698123456' });
    // SMS go to a verified phone only (test/e2e/phone-verification.test.ts verifies one through the API).
    await db.query(`UPDATE users SET phone_verified_at = now() WHERE id = $1`, [withPhone.user.id]);
    const [withoutPhone] = await buyers(t.url, 1);

    const before = emails().length;
    const held = await placeOrder(t.url, withPhone, { eventId: s.eventId, items: [{ ticketTypeId: s.ticketTypeIds[0], quantity: 2 }] });
    expect(held.status).toBe(201);
    // Holding seats, or a declined payment, sends nothing.
    expect((await call(t.url, 'POST', `/v1/orders/${held.body.id}/pay`, { token: withPhone.accessToken, body: { paymentToken: 'tok_chargeDeclined' } })).status).toBe(402);
    await settled();
    expect(emails().length).toBe(before);

    const paid = await call(t.url, 'POST', `/v1/orders/${held.body.id}/pay`, { token: withPhone.accessToken, body: { paymentToken: 'tok_visa' } });
    expect(paid.status).toBe(200);
    const other = await paidOrder(t.url, withoutPhone, s, 1);
    await settled();

    const mail = emailsTo(withPhone.user.email, 'ticket-confirmation');
    expect(mail).toHaveLength(1);
    const codes = paid.body.tickets.map((x: { code: string }) => x.code).sort();
    expect(mail[0].data.tickets.map((x: { code: string }) => x.code).sort()).toEqual(codes);
    for (const ticket of mail[0].data.tickets) expect(ticket.qrPng).toMatch(/^data:image\/png;base64,/);
    expect(mail[0].data).toMatchObject({
      buyerName: withPhone.user.name,
      orderId: held.body.id,
      amount: 90_000,
      currency: 'TND',
      amountFormatted: expect.stringMatching(/90\.000/),
      event: { title: 'Jazz à Carthage', venueName: 'Arena', venueCity: 'Tunis', startsAtLocal: expect.stringContaining('(Africa/Tunis)') },
    });
    // Only the paying buyer gets it; the other buyer gets their own, once.
    expect(emailsTo(withoutPhone.user.email, 'ticket-confirmation').map((e) => e.data.orderId)).toEqual([other.id]);

    const sms = await outboxRows(`order-paid:${held.body.id}`);
    expect(sms.map((r) => [r.channel, r.status, r.recipient])).toEqual([
      ['email', 'sent', withPhone.user.email],
      ['sms', 'sent', '+21698123456'],
    ]);
    expect(sms[1].payload.text).toContain(held.body.id.replace(/-/g, '').slice(0, 8).toUpperCase());
    expect(sms[1].payload.text.length).toBeLessThanOrEqual(160);
    expect((await outboxRows(`order-paid:${other.id}`)).map((r) => r.channel)).toEqual(['email']);
  });

  it('refund-completed goes to the buyer once per refunded order: by the buyer, by the organiser, and for each order of a cancelled event', async () => {
    const s = await sellableEvent(t.url, owner, [{ capacity: 50 }], { title: 'Derby' });
    const people = await buyers(t.url, 4);
    const orders = [];
    for (const p of people) orders.push(await paidOrder(t.url, p, s, 1));
    const pending = await placeOrder(t.url, people[0], { eventId: s.eventId, items: [{ ticketTypeId: s.ticketTypeIds[0], quantity: 1 }] });
    expect(pending.status).toBe(201);

    expect((await call(t.url, 'POST', `/v1/orders/${orders[0].id}/refund`, { token: people[0].accessToken })).status).toBe(200);
    expect((await call(t.url, 'POST', `/v1/orders/${orders[1].id}/refund`, { token: owner.accessToken })).status).toBe(200);
    // A second refund is refused and tells nobody anything.
    expect((await call(t.url, 'POST', `/v1/orders/${orders[1].id}/refund`, { token: owner.accessToken })).status).toBe(409);
    expect((await call(t.url, 'POST', `/v1/events/${s.eventId}/cancel`, { token: owner.accessToken })).status).toBe(200);
    await waitFor(
      async () => ((await db.query(`SELECT orders_settled_at FROM events WHERE id = $1`, [s.eventId])).rows[0].orders_settled_at ? true : undefined),
      'the cancelled event to settle',
      15_000,
    );
    await settled();

    const reasons = people.map((p) => emailsTo(p.user.email, 'refund-completed').map((e) => e.data.reason));
    expect(reasons).toEqual([['buyer'], ['organiser'], ['event-cancelled'], ['event-cancelled']]);
    const first = emailsTo(people[2].user.email, 'refund-completed')[0];
    expect(first.data).toMatchObject({ orderId: orders[2].id, amount: 45_000, amountFormatted: expect.stringMatching(/45\.000/), event: { title: 'Derby' } });
    // The released hold was never paid: no refund message for it.
    expect(await outboxRows(`order-refunded:${pending.body.id}`)).toEqual([]);
  });

  it('writes nothing when the change that would cause it rolls back', async () => {
    const s = await sellableEvent(t.url, owner, [{ capacity: 1 }]);
    const [a, b] = await buyers(t.url, 2);
    await paidOrder(t.url, a, s, 1);
    // Sold out: the hold fails, so there is nothing to pay and nothing to tell.
    const refused = await placeOrder(t.url, b, { eventId: s.eventId, items: [{ ticketTypeId: s.ticketTypeIds[0], quantity: 1 }] });
    expect(refused.status).toBe(409);
    await settled();
    expect(emails().filter((e) => e.to === b.user.email)).toEqual([]);
  });
});
