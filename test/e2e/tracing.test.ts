import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppProcess, baseEnv, spawnApp } from '../support/app';
import { createTestDatabase, TestDatabase } from '../support/database';
import { call, register, Session } from '../support/http';
import { organiser, pay, placeOrder, sellableEvent } from '../support/orders';
import { waitFor } from '../support/ports';

/**
 * Traces of one purchase, as the app's OpenTelemetry set-up records them (dist/telemetry/otel-sdk.js,
 * started before main.js by test/support/tracing-preload.cjs, exporting in memory): names, parents,
 * attributes, and no personal data in any attribute of any span. The trace tree is printed.
 */

interface DumpedSpan {
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  scope: string;
  attributes: Record<string, unknown>;
  status: { code: number };
  startMs: number;
  durationMs: number;
}

const SERVER = 1;

function tree(spans: DumpedSpan[], root: DumpedSpan): string {
  const lines: string[] = [];
  const walk = (span: DumpedSpan, depth: number) => {
    const attrs = Object.entries(span.attributes)
      .filter(([k]) => k.startsWith('tickr.') || ['http.route', 'http.response.status_code', 'db.operation.name'].includes(k))
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(' ');
    lines.push(`${'  '.repeat(depth)}${span.name} (${span.durationMs.toFixed(1)} ms)${attrs ? `  ${attrs}` : ''}`);
    spans.filter((s) => s.parentSpanId === span.spanId).sort((a, b) => a.startMs - b.startMs).forEach((c) => walk(c, depth + 1));
  };
  walk(root, 0);
  return lines.join('\n');
}

describe('traces (OpenTelemetry, in-memory exporter)', () => {
  let db: TestDatabase;
  let app: AppProcess;
  let dir: string;
  let spans: DumpedSpan[];
  let buyer: Session;
  const password = `pw-${randomUUID()}`;
  const secrets: string[] = [];
  let orderId: string;
  let logLines: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'tickr-traces-'));
    const dump = join(dir, 'spans.json');
    app = await spawnApp(
      { ...baseEnv(db, { LOG_LEVEL: 'info', OUTBOX_POLL_INTERVAL_MS: '50', EMAIL_DRIVER: 'file', EMAIL_FILE_DIR: join(dir, 'emails') }), TRACE_DUMP_FILE: dump },
      { nodeArgs: ['--require', './test/support/tracing-preload.cjs'], onLine: (line) => logLines.push(line) },
    );
    const owner = await organiser(app.url);
    const sellable = await sellableEvent(app.url, owner);
    buyer = await register(app.url, { password, name: 'Ada Lovelace', phone: '+21620123456' });
    secrets.push(buyer.user.email, password, buyer.accessToken, buyer.refreshToken, 'Ada Lovelace', '+21620123456');
    // A login too: its failure counter is keyed by e-mail in Redis.
    const login = await call(app.url, 'POST', '/v1/auth/login', { body: { email: buyer.user.email, password } });
    expect(login.status).toBe(200);
    secrets.push(login.body.accessToken, login.body.refreshToken);
    logLines = [];
    const held = await placeOrder(app.url, buyer, { eventId: sellable.eventId, items: [{ ticketTypeId: sellable.ticketTypeIds[0], quantity: 2 }] });
    expect(held.status).toBe(201);
    orderId = held.body.id;
    const paid = await pay(app.url, buyer, orderId);
    expect(paid.status).toBe(200);
    for (const t of paid.body.tickets as { code: string }[]) secrets.push(t.code);
    // A refused request, for the problem document's traceId.
    const refused = await call(app.url, 'GET', `/v1/orders/${randomUUID()}?email=${encodeURIComponent(buyer.user.email)}`, { token: buyer.accessToken });
    expect(refused.status).toBe(404);
    expect(refused.body.traceId).toMatch(/^[0-9a-f]{32}$/);
    // The confirmation's outbox send.
    await waitFor(async () => (readdirSafe(join(dir, 'emails')).length > 0 ? true : undefined), 'confirmation sent', 10_000);
    await app.stop();
    spans = JSON.parse(readFileSync(dump, 'utf8')) as DumpedSpan[];
  });

  afterAll(async () => {
    await app?.stop();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const serverSpan = (method: string, path: RegExp) =>
    spans.find((s) => s.kind === SERVER && s.attributes['http.request.method'] === method && path.test(String(s.attributes['url.path'])));
  const descendants = (root: DumpedSpan): DumpedSpan[] => {
    const out: DumpedSpan[] = [];
    const walk = (id: string) => spans.filter((s) => s.parentSpanId === id).forEach((c) => (out.push(c), walk(c.spanId)));
    walk(root.spanId);
    return out;
  };

  it('POST /v1/orders is a server span with its route; the hold batch is below it, and its SQL below that', () => {
    const post = serverSpan('POST', /^\/v1\/orders$/)!;
    expect(post).toBeDefined();
    expect(post.attributes['http.route']).toBe('/v1/orders');
    expect(post.attributes['http.response.status_code']).toBe(201);
    const below = descendants(post);
    const batch = below.find((s) => s.name === 'orders.hold_batch')!;
    expect(batch).toBeDefined();
    expect(batch.traceId).toBe(post.traceId);
    expect(batch.attributes).toMatchObject({ 'tickr.batch.size': 1, 'tickr.batch.placed': 1, 'tickr.batch.refused': 0, 'tickr.batch.replayed': 0 });
    expect(batch.attributes['tickr.ticket_type.ids']).toHaveLength(1);
    const sql = descendants(batch).filter((s) => s.scope.includes('pg'));
    expect(sql.length).toBeGreaterThanOrEqual(3); // BEGIN … the hold's statements … COMMIT
    expect(below.some((s) => s.scope.includes('ioredis'))).toBe(true); // the rate limit, in the same trace
    console.log(`trace of POST /v1/orders (${post.traceId}):\n${tree(spans, post)}`);
  });

  it('the payment is a trace of its own; the confirmation e-mail is one outbox-send span', () => {
    const paid = serverSpan('POST', /\/pay$/)!;
    expect(paid.attributes['http.route']).toBe('/v1/orders/:id/pay');
    expect(descendants(paid).some((s) => s.scope.includes('pg'))).toBe(true);
    console.log(`trace of POST /v1/orders/{id}/pay (${paid.traceId}):\n${tree(spans, paid)}`);
    const send = spans.find((s) => s.name === 'notifications.outbox_send' && s.attributes['tickr.outbox.channel'] === 'email' && s.attributes['tickr.outbox.template'] === 'ticket-confirmation')!;
    expect(send).toBeDefined();
    expect(send.attributes).toMatchObject({ 'tickr.outbox.template': 'ticket-confirmation', 'tickr.outbox.attempt': 1, 'tickr.outbox.outcome': 'sent' });
  });

  it('log lines written inside a request carry its trace and span ids', () => {
    const post = serverSpan('POST', /^\/v1\/orders$/)!;
    const line = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'request completed' && l.trace_id === post.traceId);
    expect(line).toBeDefined();
    expect(line!.span_id).toMatch(/^[0-9a-f]{16}$/);
  });

  it('no attribute of any span carries personal data: e-mail, name, phone, password, tokens, ticket codes, address, query', () => {
    expect(spans.length).toBeGreaterThan(20);
    const leaks = spans.flatMap((s) =>
      Object.entries(s.attributes)
        .filter(([, v]) => secrets.some((secret) => [secret, encodeURIComponent(secret)].some((form) => JSON.stringify(v).includes(form))))
        .map(([k, v]) => `${s.name} ${k}=${JSON.stringify(v)}`),
    );
    expect(leaks).toEqual([]);
    const queries = spans.flatMap((s) => ['url.query', 'url.full', 'url.path', 'http.target'].map((k) => s.attributes[k]).filter((v) => typeof v === 'string' && v.includes('?')));
    expect(queries).toEqual([]);
    // Nobody's e-mail (the organiser's neither: every test address is @example.com).
    expect(spans.filter((s) => JSON.stringify(s.attributes).includes('example.com')).map((s) => `${s.name} ${JSON.stringify(s.attributes)}`)).toEqual([]);
    // The caller's address and user agent (all of loopback here, so checked by name).
    const addresses = spans.flatMap((s) => ['client.address', 'network.peer.address', 'user_agent.original'].filter((k) => k in s.attributes));
    expect(addresses).toEqual([]);
  });
});

describe('src/tracing.ts, the first import of main.ts', () => {
  /** How many SDK modules are loaded once dist/tracing.js has run with `env`, and whether a span records. */
  const loadedWith = (env: Record<string, string>): { sdk: number; recording: boolean } => {
    const script =
      "require('./dist/tracing.js'); const api = require('@opentelemetry/api');" +
      "console.log(JSON.stringify({ sdk: Object.keys(require.cache).filter((k) => /@opentelemetry[\\/](sdk-node|sdk-trace)[\\/]/.test(k)).length," +
      " recording: api.trace.getTracer('t').startSpan('probe').isRecording() }))";
    const out = execFileSync(process.execPath, ['-e', script], { cwd: join(__dirname, '../..'), env: { PATH: process.env.PATH ?? '', ...env } });
    return JSON.parse(out.toString());
  };

  it('off by default: the SDK is not even loaded, spans do not record', () => {
    expect(loadedWith({})).toEqual({ sdk: 0, recording: false });
    expect(loadedWith({ OTEL_ENABLED: 'false' })).toEqual({ sdk: 0, recording: false });
  });

  it('OTEL_ENABLED=true starts the SDK before anything else; a malformed variable is left for main.ts to name', () => {
    const on = loadedWith({ OTEL_ENABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1' });
    expect(on.sdk).toBeGreaterThan(0);
    expect(on.recording).toBe(true);
    expect(loadedWith({ OTEL_ENABLED: 'maybe' })).toEqual({ sdk: 0, recording: false });
  });
});

function readdirSafe(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}
