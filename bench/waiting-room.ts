/**
 * `npm run bench:waiting-room` — an on-sale through the waiting room, through the whole stack.
 *
 * Starts its own embedded Postgres, redis-server and `node dist/main.js` (the other benches'
 * settings). An organiser publishes one event with one ticket type of BENCH_CAPACITY seats (on sale
 * tomorrow) and turns its waiting room on at BENCH_ADMIT_PER_MINUTE; BENCH_BUYERS buyers register
 * and join the queue before the opening; the sales are then moved to open in 2 s. Each buyer polls
 * its entry (`GET …/queue/{id}`, every BENCH_POLL_MS) and, once admitted, holds one seat with its
 * Admission-Token (`POST /v1/orders`).
 *
 * Printed: queued buyers, admitted buyers, holds (201) and SOLD_OUT answers, holds per second over
 * the on-sale, and the admission accuracy: the rate measured from the admission times Redis records
 * (first to last, the first batch left out) against the configured one.
 *
 * Verdict PASS when every buyer was admitted exactly once, every hold answered 201 or 409 SOLD_OUT
 * (no 403: every admission worked), holds = min(capacity, buyers), and the measured rate is within
 * 10 % of the configured one. Otherwise FAIL, exit code 1.
 * Settings: BENCH_BUYERS (800), BENCH_ADMIT_PER_MINUTE (2400), BENCH_CAPACITY (600), BENCH_POLL_MS (1000).
 * Results: bench/results/waiting-room-<timestamp>.json.
 */
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { call, mapConcurrent, publishedBenchEvent, registerUser, Session } from './support/api';
import { Cleanup, stopEverything } from './support/cleanup';
import { environment, intEnv, log, printVerdict, runBenchmark, table, writeResult } from './support/report';
import { startStack } from './support/stack';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Outcome {
  admittedSeenAt: number;
  status: number;
  answeredAt: number;
}

async function buyerJourney(url: string, buyer: Session, eventId: string, ticketTypeId: string, queueId: string, pollMs: number): Promise<Outcome> {
  await sleep(Math.random() * pollMs);
  for (;;) {
    const entry = await call(url, 'GET', `/v1/events/${eventId}/queue/${queueId}`, { token: buyer.accessToken, expect: 200 });
    if (entry.body.admissionToken) {
      const admittedSeenAt = Date.now();
      const held = await call(url, 'POST', '/v1/orders', {
        token: buyer.accessToken,
        headers: { 'idempotency-key': randomUUID(), 'admission-token': entry.body.admissionToken },
        body: { eventId, items: [{ ticketTypeId, quantity: 1 }] },
      });
      return { admittedSeenAt, status: held.status, answeredAt: Date.now() };
    }
    await sleep(pollMs);
  }
}

async function main(): Promise<number> {
  const startedAt = new Date();
  const buyersCount = intEnv('BENCH_BUYERS', 800);
  const perMinute = intEnv('BENCH_ADMIT_PER_MINUTE', 2_400);
  const capacity = intEnv('BENCH_CAPACITY', 600);
  const pollMs = intEnv('BENCH_POLL_MS', 1_000);
  const cleanup = new Cleanup(log);
  try {
    const stack = await startStack(cleanup, log, { appEnv: { ACCESS_TOKEN_TTL_SECONDS: '86400', WAITING_ROOM_ADMIT_INTERVAL_MS: '200' } });
    const url = stack.app.url;
    const redis = new Redis(stack.redisUrl, { keyPrefix: 'tickr:' });
    cleanup.add('bench redis connection', async () => void redis.disconnect());

    const owner = await registerUser(url, 'organiser');
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString();
    const { eventId, ticketTypeIds } = await publishedBenchEvent(
      url,
      owner.accessToken,
      { title: 'Waiting-room bench', description: '', venue: { name: 'Arena', city: 'Tunis', address: '1 Avenue Habib Bourguiba' } },
      [{ name: 'GA', price: 45_000, capacity, salesStartAt: tomorrow } as { name: string; price: number; capacity: number }],
    );
    const ticketTypeId = ticketTypeIds[0];
    await call(url, 'PATCH', `/v1/events/${eventId}`, { token: owner.accessToken, body: { waitingRoom: { enabled: true, admitPerMinute: perMinute } }, expect: 200 });

    log(`registering ${buyersCount} buyers…`);
    const crowd = await mapConcurrent(buyersCount, 32, () => registerUser(url, 'buyer'));
    log('everyone joins the queue before the opening…');
    const queueIds = await mapConcurrent(buyersCount, 32, async (i) => (await call(url, 'POST', `/v1/events/${eventId}/queue`, { token: crowd[i].accessToken, expect: 201 })).body.queueId as string);
    const memory = Number(await redis.call('MEMORY', 'USAGE', `tickr:wr:{${eventId}}:queue`, 'SAMPLES', '0')) +
      Number(await redis.call('MEMORY', 'USAGE', `tickr:wr:{${eventId}}:entries`, 'SAMPLES', '0')) +
      Number(await redis.call('MEMORY', 'USAGE', `tickr:wr:{${eventId}}:buyers`, 'SAMPLES', '0'));

    const opensAt = Date.now() + 2_000;
    await call(url, 'PATCH', `/v1/events/${eventId}/ticket-types/${ticketTypeId}`, { token: owner.accessToken, body: { salesStartAt: new Date(opensAt).toISOString() }, expect: 200 });
    log(`the sales open in 2 s; ${buyersCount} buyers poll and hold once admitted…`);
    const outcomes = await mapConcurrent(buyersCount, buyersCount, (i) => buyerJourney(url, crowd[i], eventId, ticketTypeId, queueIds[i], pollMs));

    const admittedAt = Object.values(await redis.hgetall(`wr:{${eventId}}:admitted`)).map(Number).sort((a, b) => a - b);
    const first = admittedAt[0];
    const last = admittedAt[admittedAt.length - 1];
    const measured = (admittedAt.filter((t) => t > first).length / (last - first)) * 60_000;
    const accuracy = measured / perMinute;
    const holds = outcomes.filter((o) => o.status === 201);
    const soldOut = outcomes.filter((o) => o.status === 409).length;
    const other = outcomes.filter((o) => o.status !== 201 && o.status !== 409).length;
    const holdSpan = (Math.max(...holds.map((o) => o.answeredAt)) - Math.min(...holds.map((o) => o.answeredAt))) / 1000;
    const holdsPerSecond = holds.length / Math.max(holdSpan, 0.001);

    const problems: string[] = [];
    if (admittedAt.length !== buyersCount) problems.push(`admitted ${admittedAt.length} of ${buyersCount}`);
    if (other) problems.push(`${other} holds answered neither 201 nor 409`);
    if (holds.length !== Math.min(capacity, buyersCount)) problems.push(`${holds.length} holds, expected ${Math.min(capacity, buyersCount)}`);
    if (Math.abs(accuracy - 1) >= 0.1) problems.push(`admission rate off by ${((accuracy - 1) * 100).toFixed(1)} %`);
    const verdict = problems.length ? 'FAIL' : 'PASS';

    const out = [
      `bench:waiting-room — ${environment().cpuCount} cores`,
      table([
        ['queued buyers', 'admitted', 'holds (201)', 'SOLD_OUT', 'holds/s', 'rate configured', 'rate measured', 'accuracy', 'Redis bytes/queued buyer'],
        [
          String(buyersCount), String(admittedAt.length), String(holds.length), String(soldOut), holdsPerSecond.toFixed(1),
          `${perMinute}/min`, `${measured.toFixed(0)}/min`, `${(accuracy * 100).toFixed(1)} %`, (memory / buyersCount).toFixed(0),
        ],
      ]),
      `verdict: ${verdict}${problems.length ? ` (${problems.join('; ')})` : ''}`,
    ];
    const path = writeResult('waiting-room', { startedAt, buyersCount, perMinute, capacity, measured, accuracy, holds: holds.length, soldOut, holdsPerSecond, memoryPerBuyer: memory / buyersCount, problems }, startedAt);
    return printVerdict(out, path, verdict);
  } finally {
    await stopEverything(cleanup, log);
  }
}

runBenchmark('waiting-room', main);
