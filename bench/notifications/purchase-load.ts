import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { problemCode, Session } from '../support/api';
import { CloudWatchStub } from '../support/cloudwatch-stub';
import { watchCpu } from '../support/cpu';
import { KeepAliveClient } from '../support/http-client';
import { latencySummary, Samples } from '../support/load';
import { BenchApp } from '../support/stack';

/**
 * Part 2 and 3 of bench:notifications: purchases (a hold, then its payment) in a closed loop against
 * one API instance per round; the metrics-on and metrics-off instances alternate.
 */

export const PURCHASE_QUANTITY = 2;
export const SUCCESS_TOKEN = 'tok_visa';

type Latency = ReturnType<typeof latencySummary>;

export type Variant = 'off' | 'on';

export interface Round {
  label: string;
  instance: Variant;
  kind: 'warm-up' | 'a/b' | 'outage';
  stubMode: 'ok' | 'error' | 'hang';
  seconds: number;
  purchases: number;
  purchasesPerSecond: number;
  failures: number;
  failureKinds: Record<string, number>;
  firstErrors: string[];
  holdMs: Latency;
  payMs: Latency;
  purchaseMs: Latency;
  cpuCores: Record<string, number | undefined>;
  /** PutMetricData calls the stub got while the round ran. */
  stubCalls: number;
}

export type RoundMeta = { label: string; kind: Round['kind']; stubMode: Round['stubMode'] };

/** What one round saw, purchase after purchase. */
class RoundTally {
  readonly hold = new Samples();
  readonly pay = new Samples();
  readonly purchase = new Samples();
  readonly failureKinds: Record<string, number> = {};
  readonly firstErrors: string[] = [];
  failures = 0;
  purchases = 0;

  fail(kind: string, detail: string): void {
    this.failures++;
    this.failureKinds[kind] = (this.failureKinds[kind] ?? 0) + 1;
    if (this.firstErrors.length < 5) this.firstErrors.push(`${kind}: ${detail.slice(0, 300)}`);
  }
}

export class PurchaseLoad {
  private seq = 0;
  private readonly runId = randomBytes(4).toString('hex');
  private readonly holdBodies: Buffer[];
  private readonly payBody = Buffer.from(JSON.stringify({ paymentToken: SUCCESS_TOKEN }));
  /** Per instance: orders paid (200 `paid`), and the pooled samples of its a/b rounds. */
  readonly paid: Record<Variant, string[]> = { off: [], on: [] };
  readonly pooled: Record<Variant, { hold: Samples; pay: Samples; purchase: Samples }> = {
    off: { hold: new Samples(), pay: new Samples(), purchase: new Samples() },
    on: { hold: new Samples(), pay: new Samples(), purchase: new Samples() },
  };

  constructor(
    private readonly buyers: Session[],
    eventId: string,
    ticketTypeIds: string[],
    private readonly connections: number,
    private readonly timeoutMs: number,
  ) {
    this.holdBodies = ticketTypeIds.map((id) => Buffer.from(JSON.stringify({ eventId, items: [{ ticketTypeId: id, quantity: PURCHASE_QUANTITY }] })));
  }

  async round(app: BenchApp, instance: Variant, seconds: number, meta: RoundMeta, cpuPids: Record<string, number | undefined>, stub: CloudWatchStub): Promise<Round> {
    const client = new KeepAliveClient(app.url, this.connections, this.timeoutMs);
    const tally = new RoundTally();
    const callsBefore = stub.calls.length;
    const cpu = watchCpu(cpuPids);
    const t0 = performance.now();
    const deadline = t0 + seconds * 1000;
    const worker = async () => {
      while (performance.now() < deadline) await this.purchaseOnce(client, instance, meta, tally);
    };
    try {
      await Promise.all(Array.from({ length: this.connections }, worker));
    } finally {
      client.close();
    }
    const elapsed = (performance.now() - t0) / 1000;
    const cpuCores = cpu.stop();
    return {
      ...meta,
      instance,
      seconds: elapsed,
      purchases: tally.purchases,
      purchasesPerSecond: tally.purchases / elapsed,
      failures: tally.failures,
      failureKinds: tally.failureKinds,
      firstErrors: tally.firstErrors,
      holdMs: latencySummary(tally.hold.sorted()),
      payMs: latencySummary(tally.pay.sorted()),
      purchaseMs: latencySummary(tally.purchase.sorted()),
      cpuCores,
      stubCalls: stub.calls.length - callsBefore,
    };
  }

  /** One purchase by the next buyer: the hold, then its payment, timed from sending the hold. */
  private async purchaseOnce(client: KeepAliveClient, instance: Variant, meta: RoundMeta, tally: RoundTally): Promise<void> {
    const n = this.seq++;
    const buyer = this.buyers[n % this.buyers.length];
    const auth = `Bearer ${buyer.accessToken}`;
    const start = performance.now();
    try {
      const held = await client.send(
        'POST',
        '/v1/orders',
        { 'content-type': 'application/json', authorization: auth, 'idempotency-key': `notif-${this.runId}-${n}` },
        this.holdBodies[n % this.holdBodies.length],
      );
      const heldAt = performance.now();
      if (held.status !== 201) {
        tally.fail(`hold ${held.status} ${problemCode(held.body)}`.trim(), held.body);
        return;
      }
      const orderId = (JSON.parse(held.body) as { id: string }).id;
      const paid = await client.send('POST', `/v1/orders/${orderId}/pay`, { 'content-type': 'application/json', authorization: auth }, this.payBody);
      const paidAt = performance.now();
      if (paid.status !== 200 || (JSON.parse(paid.body) as { status?: string }).status !== 'paid') {
        tally.fail(`pay ${paid.status} ${problemCode(paid.body)}`.trim(), paid.body);
        return;
      }
      tally.hold.push(heldAt - start);
      tally.pay.push(paidAt - heldAt);
      tally.purchase.push(paidAt - start);
      tally.purchases++;
      this.paid[instance].push(orderId);
      if (meta.kind === 'a/b') {
        this.pooled[instance].hold.push(heldAt - start);
        this.pooled[instance].pay.push(paidAt - heldAt);
        this.pooled[instance].purchase.push(paidAt - start);
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      tally.fail(/timeout/.test(message) ? 'timeout' : `transport error (${(error as NodeJS.ErrnoException).code ?? message})`, message);
    }
  }
}

/** Thue–Morse: round i goes to the first instance when i has an even number of 1 bits (A B B A B A A B …). */
export const thueMorse = (i: number) => {
  let bits = 0;
  for (let x = i; x; x >>= 1) bits += x & 1;
  return bits % 2;
};

/** The a/b rounds pooled per instance, and on against off. */
export function compareInstances(rounds: Round[], load: PurchaseLoad) {
  const ab = rounds.filter((r) => r.kind === 'a/b');
  const pooledOf = (v: Variant) => ({
    rounds: ab.filter((r) => r.instance === v).length,
    purchases: ab.filter((r) => r.instance === v).reduce((n, r) => n + r.purchases, 0),
    purchasesPerSecond:
      ab.filter((r) => r.instance === v).reduce((n, r) => n + r.purchases, 0) / ab.filter((r) => r.instance === v).reduce((n, r) => n + r.seconds, 0),
    holdMs: latencySummary(load.pooled[v].hold.sorted()),
    payMs: latencySummary(load.pooled[v].pay.sorted()),
    purchaseMs: latencySummary(load.pooled[v].purchase.sorted()),
  });
  const pooled = { off: pooledOf('off'), on: pooledOf('on') };
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
  };
  const perRoundMedian = (v: Variant, pick: (r: Round) => number) => median(ab.filter((r) => r.instance === v).map(pick));
  const compare = (pick: (p: typeof pooled.off) => number) => ({
    off: pick(pooled.off),
    on: pick(pooled.on),
    diff: pick(pooled.on) - pick(pooled.off),
    ratio: pick(pooled.on) / pick(pooled.off),
  });
  const comparison = {
    payP50: compare((p) => p.payMs.p50),
    payP95: compare((p) => p.payMs.p95),
    payP99: compare((p) => p.payMs.p99),
    purchaseP50: compare((p) => p.purchaseMs.p50),
    purchaseP95: compare((p) => p.purchaseMs.p95),
    purchaseP99: compare((p) => p.purchaseMs.p99),
    purchasesPerSecond: compare((p) => p.purchasesPerSecond),
    /** The median over rounds of each round's p50: less sensitive to one disturbed round than pooled figures. */
    purchaseP50MedianOfRounds: { off: perRoundMedian('off', (r) => r.purchaseMs.p50), on: perRoundMedian('on', (r) => r.purchaseMs.p50) },
  };
  const purchasesOn = ab.filter((r) => r.instance === 'on').reduce((n, r) => n + r.purchases, 0);
  return { pooled, comparison, purchasesOn };
}

export type Comparison = ReturnType<typeof compareInstances>;
