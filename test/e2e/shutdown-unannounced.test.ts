import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { AppProcess, baseEnv, spawnApp } from '../support/app';
import { theBooks } from '../support/books';
import { createTestDatabase, TestDatabase } from '../support/database';
import { Balancer, startHaproxy } from '../support/haproxy';
import { Session } from '../support/http';
import { buyers, organiser, sellableEvent } from '../support/orders';

/**
 * Issue 21: a SIGTERM the balancer was not told about (a crashed sidecar, a Spot interruption,
 * `ecs stop-task`). HAProxy in front of two instances, keeping connections alive both ways and
 * checking readiness every 500 ms as an ALB does; keep-alive clients send mixed traffic (reads,
 * holds, payments) while one instance is stopped with no warning. Every request must be answered as
 * in normal service, and the books must match every answer.
 */
const EXPECTED = { event: 200, hold: 201, pay: 200 } as const;
type Kind = keyof typeof EXPECTED;
interface Answer {
  kind: Kind;
  status: number;
  detail?: string;
}

class MixedTraffic {
  readonly answers: Answer[] = [];
  readonly held: string[] = [];
  readonly paid: string[] = [];
  private running = true;
  private readonly workers: Promise<void>[];

  constructor(
    private readonly url: string,
    private readonly buyers: Session[],
    private readonly eventId: string,
    private readonly ticketTypeId: string,
  ) {
    this.workers = buyers.map((buyer) => this.loop(buyer));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.workers);
  }

  private async loop(buyer: Session): Promise<void> {
    for (let round = 0; this.running; round++) {
      await this.send('event', 'GET', `/v1/events/${this.eventId}`);
      const hold = await this.send('hold', 'POST', '/v1/orders', buyer, {
        body: { eventId: this.eventId, items: [{ ticketTypeId: this.ticketTypeId, quantity: 1 }] },
        key: randomUUID(),
      });
      if (hold.status !== 201) continue;
      this.held.push(hold.json.id);
      if (round % 2 === 1) continue;
      const paid = await this.send('pay', 'POST', `/v1/orders/${hold.json.id}/pay`, buyer, { body: { paymentToken: 'tok_visa' } });
      if (paid.status === 200) this.paid.push(hold.json.id);
    }
  }

  private async send(kind: Kind, method: string, path: string, buyer?: Session, options: { body?: unknown; key?: string } = {}) {
    const headers: Record<string, string> = {};
    if (buyer) headers.authorization = `Bearer ${buyer.accessToken}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (options.key) headers['idempotency-key'] = options.key;
    try {
      const res = await fetch(`${this.url}${path}`, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body), signal: AbortSignal.timeout(15_000) });
      const text = await res.text();
      this.answers.push({ kind, status: res.status, detail: res.status === EXPECTED[kind] ? undefined : text.slice(0, 200) });
      return { status: res.status, json: res.status === EXPECTED[kind] ? JSON.parse(text) : undefined };
    } catch (error) {
      this.answers.push({ kind, status: 0, detail: `${(error as Error).message} ${String((error as Error).cause ?? '')}` });
      return { status: 0, json: undefined };
    }
  }
}

/** One GET straight to an instance over Node's http (the `connection` header as the server sent it). */
function direct(url: string, path: string): Promise<{ status: number; connection?: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('an unannounced SIGTERM behind a keep-alive balancer', () => {
  let db: TestDatabase;
  let client: Client;
  let a: AppProcess;
  let b: AppProcess;
  let balancer: Balancer;
  beforeAll(async () => {
    db = await createTestDatabase();
    // No fixed drain delay at all: the instance must find out by itself when the balancer (2 failed
    // checks 500 ms apart) has stopped sending, by the requests ceasing for SHUTDOWN_QUIET_MS.
    const env = baseEnv(db, {
      SHUTDOWN_DRAIN_DELAY_MS: '0',
      SHUTDOWN_QUIET_MS: '1000',
      SHUTDOWN_DRAIN_MAX_MS: '15000',
      SHUTDOWN_TIMEOUT_MS: '10000',
      PAYMENT_SIM_LATENCY_MS: '20',
    });
    [a, b] = await Promise.all([spawnApp(env), spawnApp(env)]);
    balancer = await startHaproxy({ a: Number(new URL(a.url).port), b: Number(new URL(b.url).port) });
    client = new Client({ connectionString: db.url });
    await client.connect();
  }, 90_000);
  afterAll(async () => {
    await client?.end();
    await balancer?.stop();
    await Promise.all([a?.stop(), b?.stop()]);
    await db?.drop();
  });

  it('serves every request during the drain, then exits; every answer is in the books', async () => {
    const owner = await organiser(balancer.url);
    const sellable = await sellableEvent(balancer.url, owner, [{ capacity: 100_000, maxPerOrder: 10 }]);
    const traffic = new MixedTraffic(balancer.url, await buyers(balancer.url, 12), sellable.eventId, sellable.ticketTypeIds[0]);
    await sleep(1_500);

    const sessionsBefore = await totalSessions(balancer, 'a');
    const exited = a.stop('SIGTERM');
    await sleep(200);
    // Draining: still served, but the connection is not kept; readiness says go away.
    const live = await direct(a.url, '/health');
    expect(live).toEqual({ status: 200, connection: 'close' });
    expect((await direct(a.url, '/health/ready')).status).toBe(503);
    expect(await exited).toBe(0);
    const sessionsAfter = await totalSessions(balancer, 'a');
    await sleep(1_000);
    await traffic.stop();

    // The balancer kept sending to the stopping instance (it was not told): that is the case under test.
    expect(sessionsAfter).toBeGreaterThan(sessionsBefore);
    const failed = traffic.answers.filter((x) => x.status !== EXPECTED[x.kind]);
    expect(failed).toEqual([]);
    expect(traffic.paid.length).toBeGreaterThan(10);

    const books = await theBooks(client, { held: traffic.held, paid: traffic.paid });
    expect(books.lostOrders).toEqual([]);
    expect(books.notPaid).toEqual([]);
    expect(books.missingPaid).toBe(0);
    expect(books.withoutConfirmation).toEqual([]);
    expect(books.invariants).toEqual({ inventory: [], payments: [] });
    expect(books.ordersInDb).toBe(traffic.held.length);
  }, 90_000);
});

/** Sessions HAProxy has opened to server `name` so far (`stot`). */
async function totalSessions(balancer: Balancer, name: string): Promise<number> {
  const csv = await balancer.command('show stat');
  const header = csv.split('\n')[0].replace(/^# /, '').split(',');
  const row = csv.split('\n').map((l) => l.split(',')).find((cells) => cells[0] === 'app' && cells[1] === name);
  return Number(row?.[header.indexOf('stot')] ?? 0);
}
