import { randomUUID } from 'node:crypto';
import { call, Reply, Session } from './http';
import { inDays, sellableEvent, Sellable } from './orders';

/** Spearman's rank correlation of two equally long series (average ranks for ties). */
export function spearman(xs: number[], ys: number[]): number {
  const rank = (values: number[]) => {
    const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
    const ranks = new Array<number>(values.length);
    for (let i = 0; i < order.length; ) {
      let j = i;
      while (j + 1 < order.length && order[j + 1][0] === order[i][0]) j++;
      for (let k = i; k <= j; k++) ranks[order[k][1]] = (i + j) / 2;
      i = j + 1;
    }
    return ranks;
  };
  const rx = rank(xs);
  const ry = rank(ys);
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const mx = mean(rx);
  const my = mean(ry);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < rx.length; i++) {
    sxy += (rx[i] - mx) * (ry[i] - my);
    sxx += (rx[i] - mx) ** 2;
    syy += (ry[i] - my) ** 2;
  }
  return sxy / Math.sqrt(sxx * syy);
}

/** A published event with one ticket type on sale from `salesStartAt` (null: from publication) and its waiting room on. */
export async function waitingRoomEvent(
  url: string,
  owner: Session,
  admitPerMinute: number,
  salesStartAt: string | null = null,
  capacity = 100,
): Promise<Sellable> {
  const spec = salesStartAt ? { salesStartAt, capacity } : { capacity };
  const sellable = await sellableEvent(url, owner, [spec]);
  const patched = await call(url, 'PATCH', `/v1/events/${sellable.eventId}`, {
    token: owner.accessToken,
    body: { waitingRoom: { enabled: true, admitPerMinute } },
  });
  if (patched.status !== 200) throw new Error(`enable the waiting room: ${patched.status} ${patched.text}`);
  return sellable;
}

export const join = (url: string, buyer: Session, eventId: string): Promise<Reply> =>
  call(url, 'POST', `/v1/events/${eventId}/queue`, { token: buyer.accessToken });

export const queueStatus = (url: string, buyer: Session, eventId: string, queueId: string): Promise<Reply> =>
  call(url, 'GET', `/v1/events/${eventId}/queue/${queueId}`, { token: buyer.accessToken });

/** Polls the entry until admitted; returns its admission token. */
export async function admissionOf(url: string, buyer: Session, eventId: string, queueId: string, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await queueStatus(url, buyer, eventId, queueId);
    if (res.body.admissionToken) return res.body.admissionToken;
    if (Date.now() > deadline) throw new Error(`not admitted in ${timeoutMs} ms: ${res.text}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function orderWithAdmission(
  url: string,
  buyer: Session,
  sellable: Sellable,
  admissionToken: string | undefined,
  key: string = randomUUID(),
): Promise<Reply> {
  const headers: Record<string, string> = { 'idempotency-key': key };
  if (admissionToken !== undefined) headers['admission-token'] = admissionToken;
  return call(url, 'POST', '/v1/orders', {
    token: buyer.accessToken,
    headers,
    body: { eventId: sellable.eventId, items: [{ ticketTypeId: sellable.ticketTypeIds[0], quantity: 1 }] },
  });
}

export const soon = (seconds: number) => new Date(Date.now() + seconds * 1000).toISOString();
export { inDays };
