import { randomBytes, randomUUID } from 'node:crypto';
import { call, register, Reply, Session, uniqueEmail } from '../../test/support/http';

/**
 * The benches' fixtures, on the one API client of the tests (test/support/http.ts): every seeding
 * call states the status it needs (`expect`), so a bench never measures on top of a failure it did
 * not notice.
 */

export { call };
export type { Reply, Session };

/** `POST /v1/auth/register` with a unique e-mail and a password of its own. */
export function registerUser(baseUrl: string, role: 'buyer' | 'organiser', name = role === 'organiser' ? 'Bench Organiser' : 'Bench Buyer'): Promise<Session> {
  return register(baseUrl, { email: uniqueEmail(`bench-${role}`), password: `bench-password-${randomBytes(6).toString('hex')}`, name, role });
}

const HOUR_MS = 3_600_000;

/**
 * A published event for a benchmark, through the public API: starts on the hour 30 days ahead,
 * lasts three hours, in Tunis (TND); `ticketTypes` are added before it is published.
 */
export async function publishedBenchEvent(
  base: string,
  token: string,
  event: { title: string; description: string; venue: { name: string; city: string; address: string } },
  ticketTypes: { name: string; price: number; capacity: number; maxPerBuyer?: number }[],
): Promise<{ eventId: string; ticketTypeIds: string[] }> {
  const startsAt = new Date(Math.ceil((Date.now() + 30 * 24 * HOUR_MS) / HOUR_MS) * HOUR_MS);
  const created = await call<{ id: string }>(base, 'POST', '/v1/events', {
    token,
    expect: 201,
    body: {
      ...event,
      category: 'concert',
      startsAt: startsAt.toISOString(),
      endsAt: new Date(startsAt.getTime() + 3 * HOUR_MS).toISOString(),
      timezone: 'Africa/Tunis',
      currency: 'TND',
    },
  });
  const eventId = created.body.id;
  const ticketTypeIds: string[] = [];
  for (const body of ticketTypes) {
    ticketTypeIds.push((await call<{ id: string }>(base, 'POST', `/v1/events/${eventId}/ticket-types`, { token, expect: 201, body })).body.id);
  }
  await call(base, 'POST', `/v1/events/${eventId}/publish`, { token, expect: 200 });
  return { eventId, ticketTypeIds };
}

/** A hold (`POST /v1/orders`, a fresh Idempotency-Key) paid with `tok_visa`; returns the paid order. */
export async function purchase(
  base: string,
  buyer: Session,
  order: { eventId: string; ticketTypeId: string; quantity: number },
): Promise<{ id: string; status: string; tickets: { code: string }[] }> {
  const held = await call<{ id: string }>(base, 'POST', '/v1/orders', {
    token: buyer.accessToken,
    headers: { 'idempotency-key': `bench-seed-${randomUUID()}` },
    body: { eventId: order.eventId, items: [{ ticketTypeId: order.ticketTypeId, quantity: order.quantity }] },
    expect: 201,
  });
  const paid = await call(base, 'POST', `/v1/orders/${held.body.id}/pay`, { token: buyer.accessToken, body: { paymentToken: 'tok_visa' }, expect: 200 });
  return paid.body;
}

/** `work(0)` … `work(count - 1)`, at most `concurrency` at a time; results in index order. */
export async function mapConcurrent<T>(count: number, concurrency: number, work: (i: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await work(i);
      }
    }),
  );
  return results;
}

/** The `code` of a problem document, or '' when the body is not one. */
export function problemCode(body: string): string {
  try {
    return String((JSON.parse(body) as { code?: unknown }).code ?? '');
  } catch {
    return '';
  }
}
