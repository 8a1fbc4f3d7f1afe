import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startTestApp, TestApp } from '../support/app';
import { call, Session } from '../support/http';
import { buyers, organiser, paidOrder, Sellable, sellableEvent } from '../support/orders';
import { waitFor } from '../support/ports';
import { CHEAP_HASHING } from '../support/problems';

/**
 * The relay wakes by itself once a transaction that queued messages commits (the
 * 'notifications.enqueued' domain event; nothing else wakes it): with a poll interval of a minute
 * (the most the config allows), every message still leaves within a few seconds. A wake-up sequenced before the commit would find no row and leave the
 * message to the next poll, a minute later; so would no wake-up at all.
 */
describe('outbox relay wake-up after commit', () => {
  const POLL_MS = 60_000;
  /** Far below the poll interval: only a wake-up explains a delivery this fast. */
  const PROMPT_MS = 5_000;
  let t: TestApp;
  let dir: string;
  let owner: Session;

  const emailsTo = (to: string, template: string) =>
    readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as { to: string; template: string; data: any })
      .filter((e) => e.to === to && e.template === template);

  /** Milliseconds from `action`'s start until `to` has one `template` e-mail more than before. */
  async function timeToDelivery(to: string, template: string, action: () => Promise<unknown>): Promise<number> {
    const before = emailsTo(to, template).length;
    const start = performance.now();
    await action();
    await waitFor(async () => (emailsTo(to, template).length > before ? true : undefined), `${template} to ${to}`, PROMPT_MS);
    return performance.now() - start;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tickr-wake-up-'));
    t = await startTestApp({ ...CHEAP_HASHING, EMAIL_DRIVER: 'file', EMAIL_FILE_DIR: dir, OUTBOX_POLL_INTERVAL_MS: String(POLL_MS) });
    owner = await organiser(t.url);
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends event-published, ticket-confirmation and refund-completed promptly, woken by the commit alone', async () => {
    let sellable: Sellable | undefined;
    const published = await timeToDelivery(owner.user.email, 'event-published', async () => {
      sellable = await sellableEvent(t.url, owner, [{ capacity: 10 }], { title: 'Wake-up call' });
    });
    expect(published).toBeLessThan(PROMPT_MS);

    const [buyer] = await buyers(t.url, 1);
    let orderId = '';
    const confirmed = await timeToDelivery(buyer.user.email, 'ticket-confirmation', async () => {
      orderId = (await paidOrder(t.url, buyer, sellable!, 1)).id;
    });
    expect(confirmed).toBeLessThan(PROMPT_MS);
    expect(emailsTo(buyer.user.email, 'ticket-confirmation').map((e) => e.data.orderId)).toEqual([orderId]);

    const refunded = await timeToDelivery(buyer.user.email, 'refund-completed', async () => {
      expect((await call(t.url, 'POST', `/v1/orders/${orderId}/refund`, { token: buyer.accessToken })).status).toBe(200);
    });
    expect(refunded).toBeLessThan(PROMPT_MS);
    expect(emailsTo(buyer.user.email, 'refund-completed').map((e) => e.data.reason)).toEqual(['buyer']);
  });
});
