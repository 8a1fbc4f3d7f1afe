/**
 * `npm run bench:catalog` — the public catalog under load, against a plain Fastify baseline.
 *
 * Starts its own embedded Postgres, redis-server and `node dist/main.js` on loopback, seeds a catalog
 * (the measured event through the API, the bulk with SQL: bench/support/sql-seeding.ts), then measures with autocannon, one
 * scenario after the other, each warmed up first, all with the same settings:
 *
 *   event        GET /v1/events/{id}            one published event, warm in Redis (+ live counts)
 *   list-filter  GET /v1/events?city=&category= a filtered page over the seeded catalog
 *   list-search  GET /v1/events?q=               a title search over the seeded catalog
 *   plain        GET /v1/events/{id} on a bare Fastify server sending the very same JSON body
 *   plain-contract  the same server also doing, per request, only what the contract asks of the read
 *                (the per-caller count and the freshness check in Redis, once per turn as the app
 *                does them, and the app's headers): the floor of doing the contract's work the app's way
 *   event-2000   the warm event at 2 000 req/s, open loop: evenly spaced requests (bench/support/paced.ts),
 *                each one's latency from the instant it was due
 *   list-*-uncached  the same pages from a second app with CATALOG_PAGE_CACHE_MS=0: every page from
 *                Postgres, the path before the page cache (issue 20 item 3's baseline, same run)
 *
 * Targets printed (issue 20): the warm event ≥ 0.5× plain with p99 < 20 ms at 2 000 req/s; pages ≥ 5× the
 * uncached path; both apps' RSS < 256 MB from start-up to the end (sampled every 250 ms).
 *
 * Every response must be a 2xx with exactly the body fetched before the run; anything else fails
 * the verdict (exit code 1). Settings: BENCH_DURATION (s, default 10), BENCH_CONNECTIONS (50),
 * BENCH_PIPELINING (1), BENCH_WARMUP (s, 3), BENCH_EVENTS (published events seeded, 5000).
 * Results: a table on stdout and bench/results/catalog-<timestamp>.json.
 */
import { randomUUID } from 'node:crypto';
import { call, registerUser } from './support/api';
import { Cleanup, stopEverything } from './support/cleanup';
import { LoadSettings, loadSettingsFromEnv, measure, Scenario, ScenarioResult } from './support/load';
import { PlainServer, startPlainServer } from './support/plain-server';
import { environment, fmt, resultsTable, table, writeResult, runBenchmark, printVerdict, intEnv, log, cores } from './support/report';
import { catalogCounts, CatalogEventRow, insertCatalogEvents } from './support/sql-seeding';
import { appWarnings, BenchApp, PRODUCTION_LOG_LEVEL, Stack, startApp, startStack } from './support/stack';
import { lineChart, watchRss, writeChartBeside } from './support/timeline';

const CITIES = [
  'Tunis', 'Sfax', 'Sousse', 'Kairouan', 'Bizerte', 'Gabès', 'Ariana', 'Gafsa', 'Monastir', 'Ben Arous',
  'Kasserine', 'Médenine', 'Nabeul', 'Tataouine', 'Béja', 'Jendouba', 'Mahdia', 'Hammamet', 'Tozeur', 'Djerba',
];
/** The capital hosts more than its share of events. */
const CITY_WEIGHT = (city: string) => (city === 'Tunis' ? 3 : 1);

const CATEGORIES = ['concert', 'festival', 'theatre', 'sport', 'conference', 'other'] as const;
type Category = (typeof CATEGORIES)[number];
const SUBJECTS: Record<Category, string[]> = {
  concert: ['Jazz', 'Malouf', 'Rock', 'Rap', 'Electro', 'Classical', 'Mezoued', 'Reggae', 'Blues', 'Pop'],
  festival: ['Jazz Festival', 'Film Festival', 'Food Festival', 'Street Art Days', 'Music Festival', 'Sahara Festival'],
  theatre: ['Hamlet', 'Comedy Night', 'Stand-up', 'Drama', 'Puppet Show', 'Opera'],
  sport: ['Derby', 'Marathon', 'Basketball Final', 'Handball Cup', 'Tennis Open', 'Volleyball Gala'],
  conference: ['Tech Summit', 'AI Conference', 'Startup Day', 'DevFest', 'Fintech Forum', 'Health Forum'],
  other: ['Book Fair', 'Art Expo', 'Pottery Workshop', 'Night Market', 'Charity Gala', 'Quiz Night'],
};
const PREFIXES = ['Nuit', 'Grand', 'Live:', 'Summer', 'Winter', 'Open Air', 'Acoustic', 'Late', 'Les Étoiles du', 'Soirée'];
const VENUES = ['Théâtre municipal', 'Cité de la Culture', 'Palais des Congrès', 'Stade olympique', 'Amphithéâtre', 'Dar Sebastian', 'Le Rio', 'Salle Omnisport'];

/** Issue 20: p99 at a fixed 2 000 req/s of the warm event, and every app process's resident memory. */
const P99_TARGET_MS = 20;
const RSS_TARGET_MB = 256;

const LIST_FILTER = { city: 'Tunis', category: 'concert' as Category, limit: 20 };
const SEARCH = { q: 'jazz', limit: 20 };



/** Deterministic pseudo-random numbers (mulberry32), so every run seeds the same catalog shape. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface EventView {
  id: string;
  title: string;
  category: string;
  status: string;
  venue: { city: string };
  ticketTypes: unknown[];
}
interface Page {
  items: EventView[];
  nextCursor: string | null;
}

const DAY = 86_400_000;
const QUARTER_HOUR = 15 * 60_000;

/** The events measured and listed through the API: created, given ticket types and published like an organiser would. */
async function seedThroughApi(baseUrl: string, token: string, now: number): Promise<{ id: string; count: number }> {
  const specs = [
    { title: 'Jazz à Carthage — Bench Night', category: 'concert', city: 'Tunis', days: 30 },
    { title: 'Malouf Evening', category: 'concert', city: 'Tunis', days: 12 },
    { title: 'Sfax Jazz Festival', category: 'festival', city: 'Sfax', days: 45 },
    { title: 'Hamlet in Arabic', category: 'theatre', city: 'Sousse', days: 20 },
    { title: 'Club Africain v Espérance', category: 'sport', city: 'Tunis', days: 9 },
    { title: 'Tunis DevFest', category: 'conference', city: 'Tunis', days: 60 },
  ];
  let first = '';
  for (const spec of specs) {
    const startsAt = new Date(Math.ceil((now + spec.days * DAY) / QUARTER_HOUR) * QUARTER_HOUR);
    const created = await call<EventView>(baseUrl, 'POST', '/v1/events', {
      token,
      expect: 201,
      body: {
        title: spec.title,
        description: `${spec.title}: seeded by the catalog benchmark through the public API.`,
        category: spec.category,
        venue: { name: 'Théâtre municipal', city: spec.city, address: 'Avenue Habib Bourguiba' },
        startsAt: startsAt.toISOString(),
        endsAt: new Date(startsAt.getTime() + 3 * 3_600_000).toISOString(),
        timezone: 'Africa/Tunis',
        currency: 'TND',
      },
    });
    const id = created.body.id;
    for (const [name, price, capacity] of [
      ['Early bird', 30_000, 200],
      ['Standard', 45_000, 500],
      ['VIP', 120_000, 50],
    ] as const) {
      await call(baseUrl, 'POST', `/v1/events/${id}/ticket-types`, { token, expect: 201, body: { name, price, capacity } });
    }
    await call(baseUrl, 'POST', `/v1/events/${id}/publish`, { token, expect: 200 });
    first ||= id;
  }
  return { id: first, count: specs.length };
}


/** The bulk of the catalog, generated here and inserted in SQL (bench/support/sql-seeding.ts says why). */
function generateCatalog(published: number, now: number): CatalogEventRow[] {
  const random = prng(20_251_122);
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)];
  const weightedCities = CITIES.flatMap((c) => Array<string>(CITY_WEIGHT(c)).fill(c));
  const drafts = Math.round(published * 0.08);
  const cancelled = Math.round(published * 0.02);
  const total = published + drafts + cancelled;
  const events: CatalogEventRow[] = [];
  for (let i = 0; i < total; i++) {
    const category = pick(CATEGORIES);
    const city = pick(weightedCities);
    const startsAt = Math.ceil((now + 2 * 3_600_000 + random() * 364 * DAY) / QUARTER_HOUR) * QUARTER_HOUR;
    const hours = category === 'festival' ? 24 * (1 + Math.floor(random() * 3)) : 2 + Math.floor(random() * 3);
    const title = `${pick(PREFIXES)} ${pick(SUBJECTS[category])} ${city} #${i + 1}`;
    const description = `${title}. ${'An evening to remember, with the best of the scene on one stage. '.repeat(1 + Math.floor(random() * 4))}`.trim();
    const venueName = pick(VENUES);
    const address = `${1 + Math.floor(random() * 200)} Avenue de la République`;
    const createdAt = new Date(now - random() * 90 * DAY).toISOString();
    const types = 1 + Math.floor(random() * 3);
    const ticketTypes = ([['Standard', 45_000, 500], ['VIP', 120_000, 50], ['Early bird', 30_000, 200]] as const)
      .slice(0, types)
      .map(([name, price, capacity]) => ({ name, price, capacity, sold: Math.floor(random() * capacity * 0.6) }));
    events.push({
      id: randomUUID(), title, description, category, venueName, city, address,
      startsAt: new Date(startsAt).toISOString(),
      endsAt: new Date(startsAt + hours * 3_600_000).toISOString(),
      status: i < published ? 'published' : i < published + drafts ? 'draft' : 'cancelled',
      createdAt, ticketTypes,
    });
  }
  return events;
}

/** GET until two answers in a row are byte-identical 200s (warm cache, stable body); returns that body. */
async function stableBody(url: string, attempts = 10): Promise<string> {
  let previous: string | undefined;
  for (let i = 0; i < attempts; i++) {
    const res = await fetch(url);
    const text = await res.text();
    if (res.status !== 200) throw new Error(`GET ${url} → ${res.status}: ${text.slice(0, 1000)}`);
    if (text === previous && i >= 3) return text;
    previous = text;
  }
  throw new Error(`GET ${url} does not answer the same body twice in a row; the bench cannot check responses`);
}

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`sanity check failed: ${message}`);
}


type Counts = Awaited<ReturnType<typeof catalogCounts>>;

interface Catalog {
  api: { id: string; count: number };
  seeded: Counts;
}

async function seedCatalog(stack: Stack, publishedTarget: number): Promise<Catalog> {
  const now = Date.now();
  const organiser = await registerUser(stack.app.url, 'organiser');
  const api = await seedThroughApi(stack.app.url, organiser.accessToken, now);
  await insertCatalogEvents(stack.databaseUrl, organiser.user.id, generateCatalog(Math.max(0, publishedTarget - api.count), now));
  const seeded = await catalogCounts(stack.databaseUrl, LIST_FILTER, SEARCH);
  log(`seeded ${seeded.publishedEvents} published events (+${seeded.draftEvents} drafts, ${seeded.cancelledEvents} cancelled) in ${seeded.cities} cities, ${seeded.ticketTypes} ticket types`);
  return { api, seeded };
}

/** What each scenario must answer, byte for byte, checked for sense before anything is measured. */
interface Expected {
  eventPath: string;
  eventBody: string;
  filterPath: string;
  filterBody: string;
  filterPage: Page;
  searchPath: string;
  searchBody: string;
  searchPage: Page;
}

async function expectedAnswers(base: string, catalog: Catalog): Promise<Expected> {
  const { api, seeded } = catalog;
  const eventPath = `/v1/events/${api.id}`;
  const eventBody = await stableBody(`${base}${eventPath}`); // also warms the Redis snapshot
  const event = JSON.parse(eventBody) as EventView;
  check(event.id === api.id && event.status === 'published' && event.ticketTypes.length === 3, `${eventPath} is the published event`);

  const filterPath = `/v1/events?city=${encodeURIComponent(LIST_FILTER.city)}&category=${LIST_FILTER.category}&limit=${LIST_FILTER.limit}`;
  const filterBody = await stableBody(`${base}${filterPath}`);
  const filterPage = JSON.parse(filterBody) as Page;
  check(filterPage.items.length === Math.min(LIST_FILTER.limit, seeded.listFilterMatches), `${filterPath} returns a full page`);
  check(
    filterPage.items.every((e) => e.venue.city === LIST_FILTER.city && e.category === LIST_FILTER.category && e.status === 'published'),
    `${filterPath} returns only published ${LIST_FILTER.category}s in ${LIST_FILTER.city}`,
  );

  const searchPath = `/v1/events?q=${encodeURIComponent(SEARCH.q)}&limit=${SEARCH.limit}`;
  const searchBody = await stableBody(`${base}${searchPath}`);
  const searchPage = JSON.parse(searchBody) as Page;
  check(searchPage.items.length === Math.min(SEARCH.limit, seeded.searchMatches), `${searchPath} returns a full page`);
  check(searchPage.items.every((e) => e.title.toLowerCase().includes(SEARCH.q)), `${searchPath} returns only matching titles`);
  return { eventPath, eventBody, filterPath, filterBody, filterPage, searchPath, searchBody, searchPage };
}

/** The baseline answering the very same bytes as the app's event route. */
async function startBaseline(cleanup: Cleanup, expected: Expected): Promise<PlainServer> {
  const plain = await startPlainServer(cleanup, log, [{ path: '/v1/events/:id', body: JSON.parse(expected.eventBody) }]);
  const plainBody = await stableBody(`${plain.url}${expected.eventPath}`);
  check(plainBody === expected.eventBody, 'the plain server sends the very same bytes as the app');
  return plain;
}

/** Headers every response carries anyway, or that Fastify sets from the body itself. */
const TRANSPORT_HEADERS = new Set(['date', 'connection', 'keep-alive', 'content-length', 'content-type']);

/**
 * The baseline also doing the contract's work (ContractWork): the app's headers, as it sent them, and
 * its two Redis reads, of the same keys (the event cache's `cache:event-gen:` and `cache:event-live:`).
 */
async function startContractBaseline(cleanup: Cleanup, stack: Stack, expected: Expected, eventId: string): Promise<PlainServer> {
  const sample = await fetch(`${stack.app.url}${expected.eventPath}`);
  await sample.arrayBuffer();
  const headers = Object.fromEntries([...sample.headers].filter(([name]) => !TRANSPORT_HEADERS.has(name)));
  check(headers['x-ratelimit-remaining'] !== undefined && headers.etag !== undefined, 'the app sends rate-limit and ETag headers on the warm read');
  const plain = await startPlainServer(cleanup, log, [{ path: '/v1/events/:id', body: JSON.parse(expected.eventBody) }], {
    redisUrl: stack.redisUrl,
    headers,
    freshnessKeys: [`cache:event-gen:${eventId}`, `cache:event-live:${eventId}`],
    limitPerMinute: Number(stack.app.env.RATE_LIMIT_PER_MINUTE),
  });
  const answer = await fetch(`${plain.url}${expected.eventPath}`);
  check((await answer.text()) === expected.eventBody, 'the plain server doing the contract\'s work sends the very same bytes as the app');
  const missing = Object.keys(headers).filter((name) => !answer.headers.has(name));
  check(missing.length === 0, `the plain server doing the contract's work sends every header the app sends (missing: ${missing.join(', ')})`);
  return plain;
}

function scenariosFor(stack: Stack, plain: PlainServer, contract: PlainServer, uncached: BenchApp, x: Expected): Scenario[] {
  const base = stack.app.url;
  const uncachedCpu = { app: uncached.pid, postgres: stack.pids.postgres, redis: stack.pids.redis };
  const appCpu = { app: stack.pids.app, postgres: stack.pids.postgres, redis: stack.pids.redis };
  return [
    { name: 'plain', label: 'plain fastify: GET /v1/events/{id}', url: `${plain.url}${x.eventPath}`, expectBody: x.eventBody, cpu: { server: plain.pid } },
    { name: 'plain-contract', label: "plain fastify doing the contract's work", url: `${contract.url}${x.eventPath}`, expectBody: x.eventBody, cpu: { server: contract.pid, redis: stack.pids.redis } },
    { name: 'event', label: 'app: GET /v1/events/{id} (warm)', url: `${base}${x.eventPath}`, expectBody: x.eventBody, cpu: appCpu },
    // The floor of the app's pipeline: a route that touches nothing (liveness), through the same
    // router, logger, request id and global guards; no app route can be faster than this.
    { name: 'app-floor', label: 'app: GET /health (does nothing)', url: `${base}/health`, expectBody: '{"status":"ok"}', cpu: appCpu },
    // Issue 20 item 2: p99 below 20 ms at 2 000 requests/s: open loop, evenly spaced (bench/support/paced.ts),
    // latency from the instant each request was due. autocannon's overallRate sent each second's share in
    // a burst at full speed, so what it measured was the latency of a burst at the scenario above's rate.
    { name: 'event-2000', label: 'app: GET /v1/events/{id} at 2 000 req/s, paced', url: `${base}${x.eventPath}`, expectBody: x.eventBody, cpu: appCpu, overallRate: 2_000 },
    { name: 'list-filter', label: `app: GET /v1/events?city&category`, url: `${base}${x.filterPath}`, expectBody: x.filterBody, cpu: appCpu },
    { name: 'list-search', label: `app: GET /v1/events?q=${SEARCH.q}`, url: `${base}${x.searchPath}`, expectBody: x.searchBody, cpu: appCpu },
    { name: 'list-filter-uncached', label: 'app, no page cache: ?city&category', url: `${uncached.url}${x.filterPath}`, expectBody: x.filterBody, cpu: uncachedCpu },
    { name: 'list-search-uncached', label: `app, no page cache: ?q=${SEARCH.q}`, url: `${uncached.url}${x.searchPath}`, expectBody: x.searchBody, cpu: uncachedCpu },
  ];
}

/** Requests per second per core the server process used (undefined without /proc). */
const perCore = (r: ScenarioResult) => r.rps.mean / (r.cpuCores.app ?? r.cpuCores.server ?? NaN);

/** Ratios to the baseline, the issue-8 targets and the verdict (which rests on the problems only). */
function assess(results: ScenarioResult[], rssMaxMb: Record<string, number>) {
  const by = (name: string) => results.find((r) => r.name === name)!;
  const baseline = by('plain');
  const ratios = ['event', 'plain-contract', 'app-floor', 'list-filter', 'list-search'].map((name) => {
    const r = by(name);
    return {
      scenario: name,
      rpsAppOverPlain: r.rps.mean / baseline.rps.mean,
      // Per core of the server process: what the ratio is when other processes take CPU from one scenario and not the other.
      rpsPerCoreAppOverPlain: perCore(r) / perCore(baseline),
      p50AppOverPlain: r.latencyMs.p50 / baseline.latencyMs.p50,
      p99AppOverPlain: r.latencyMs.p99 / baseline.latencyMs.p99,
    };
  });
  const problems = results.flatMap((r) => r.problems.map((p) => `${r.name}: ${p}`));
  const eventRatio = by('event').rps.mean / baseline.rps.mean;
  const floorRatio = by('app-floor').rps.mean / baseline.rps.mean;
  const contractRatio = by('plain-contract').rps.mean / baseline.rps.mean;
  const fixedRate = by('event-2000');
  const pageRatio = (name: string) => {
    const value = by(name).rps.mean / by(`${name}-uncached`).rps.mean;
    return { target: 5, value, met: value >= 5 };
  };
  const targets = {
    issue: 8,
    pagesOverUncached: { issue: 20, filter: pageRatio('list-filter'), search: pageRatio('list-search') },
    eventOverPlain: { target: 0.5, value: eventRatio, met: eventRatio >= 0.5, pipelineFloorOverPlain: floorRatio, contractFloorOverPlain: contractRatio, appOverContractFloor: eventRatio / contractRatio },
    p99At2000: { target: P99_TARGET_MS, value: fixedRate.latencyMs.p99, rps: fixedRate.rps.mean, met: fixedRate.latencyMs.p99 < P99_TARGET_MS && fixedRate.rps.mean >= 1_900 },
    rssMaxMb: { issue: 20, target: RSS_TARGET_MB, app: rssMaxMb.app, uncachedApp: rssMaxMb.uncached, met: Math.max(rssMaxMb.app ?? Infinity, rssMaxMb.uncached ?? 0) < RSS_TARGET_MB },
  };
  const verdict = problems.length ? 'FAIL' : 'PASS';
  return { by, baseline, ratios, problems, eventRatio, floorRatio, contractRatio, fixedRate, targets, verdict };
}

type Assessment = ReturnType<typeof assess>;


function warningsOf(results: ScenarioResult[], appLog: string[]): string[] {
  const warnings: string[] = [];
  for (const r of results) {
    if ((r.cpuCores.other ?? 0) > 0.25) {
      warnings.push(`${r.name}: processes this bench did not start used ${cores(r.cpuCores.other)} cores meanwhile; its figures are unreliable`);
    }
    if ((r.cpuCores.bench ?? 0) > 0.85) {
      warnings.push(`${r.name}: the load generator used ${cores(r.cpuCores.bench)} cores; the req/s may be its limit rather than the server's`);
    }
  }
  if (appLog.length) warnings.push(`the app wrote ${appLog.length} lines of level warn or above (see appLog in the JSON)`);
  return warnings;
}

function headerLines(settings: LoadSettings, seeded: Counts, x: Expected): string[] {
  const env = environment();
  return [
    '',
    `Catalog benchmark — node ${env.node}, ${env.cpuCount} CPU (${env.cpuModel}), ${env.platform}`,
    `autocannon: ${settings.connections} connections, pipelining ${settings.pipelining}, ${settings.durationSeconds} s per scenario after a ${settings.warmupSeconds} s warm-up; load generator, app, Postgres and Redis share this machine`,
    `the apps log at LOG_LEVEL=${PRODUCTION_LOG_LEVEL} as in production (a line per request); the plain servers log nothing`,
    `catalog: ${seeded.publishedEvents} published events (${seeded.listFilterMatches} ${LIST_FILTER.category}s in ${LIST_FILTER.city}, ${seeded.searchMatches} titles matching "${SEARCH.q}"), event body ${Buffer.byteLength(x.eventBody)} B, list pages ${Buffer.byteLength(x.filterBody)} B / ${Buffer.byteLength(x.searchBody)} B`,
    '',
  ];
}

function figureLines(results: ScenarioResult[], a: Assessment): string[] {
  return [
    resultsTable(results),
    'req/s: mean of per-second samples; latency: exact percentiles of every 2xx response time; non-2xx and errors',
    '(timeouts, unexpected bodies) count the warm-up too.',
    '',
    table([
      ['app / plain fastify', 'req/s ratio', 'per core', 'p50 ratio', 'p99 ratio'],
      ...a.ratios.map((r) => [
        `${r.scenario}${r.scenario === 'event' ? '' : ' (for information)'}`,
        fmt(r.rpsAppOverPlain, 3),
        fmt(r.rpsPerCoreAppOverPlain, 3),
        `${fmt(r.p50AppOverPlain, 2)}×`,
        `${fmt(r.p99AppOverPlain, 2)}×`,
      ]),
    ]),
    '(per core: req/s per core the server process used, app over plain; steadier when other processes share the machine)',
    '',
    table([
      ['cpu: cores busy while measured', 'bench', 'server', 'postgres', 'redis', 'other', 'machine'],
      ...results.map((r) => [
        r.name,
        cores(r.cpuCores.bench),
        cores(r.cpuCores.app ?? r.cpuCores.server),
        cores(r.cpuCores.postgres),
        cores(r.cpuCores.redis),
        cores(r.cpuCores.other),
        cores(r.cpuCores.machine),
      ]),
    ]),
    '(bench: the load generator, this process; server: the app\'s node process or the plain server; postgres: the',
    'postmaster and its backends; other: every process this bench did not start; machine: all of them; 1.00 = one core)',
    '',
  ];
}

function verdictLines(a: Assessment, warnings: string[]): string[] {
  const out: string[] = [];
  for (const w of warnings) out.push(`warning: ${w}`);
  if (warnings.length) out.push('');
  const met = (ok: boolean) => (ok ? 'met' : 'not met');
  out.push(
    `targets (issue 20 item 2, not part of the verdict): warm GET /v1/events/{id} ≥ 0.5× plain fastify: ${met(a.targets.eventOverPlain.met)} (${fmt(a.eventRatio, 3)}×); ` +
      `p99 < ${P99_TARGET_MS} ms at 2 000 req/s: ${met(a.targets.p99At2000.met)} (p99 ${fmt(a.fixedRate.latencyMs.p99, 1)} ms at ${fmt(a.fixedRate.rps.mean, 0)} req/s); ` +
      `the app's pipeline floor (GET /health) is ${fmt(a.floorRatio, 3)}× plain`,
  );
  out.push(
    `  plain fastify doing only the contract's work (Redis count and freshness check per turn, the same headers) is ${fmt(a.contractRatio, 3)}× plain; ` +
      `the app is ${fmt(a.eventRatio / a.contractRatio, 3)}× that floor`,
  );
  const pages = a.targets.pagesOverUncached;
  out.push(
    `targets (issue 20 item 3, not part of the verdict): catalog pages ≥ 5× the uncached path: ` +
      `filter ${met(pages.filter.met)} (${fmt(pages.filter.value, 2)}×), search ${met(pages.search.met)} (${fmt(pages.search.value, 2)}×)`,
  );
  const rss = a.targets.rssMaxMb;
  const mb = (value: number | undefined) => (value === undefined ? 'unknown' : `${fmt(value, 0)} MB`);
  out.push(
    `targets (issue 20 item 5, not part of the verdict): app RSS < ${RSS_TARGET_MB} MB from start-up to the end: ${met(rss.met)} ` +
      `(max ${mb(rss.app)}; the CATALOG_PAGE_CACHE_MS=0 app ${mb(rss.uncachedApp)})`,
  );
  out.push(`verdict: ${a.verdict}${a.problems.length ? `\n  - ${a.problems.join('\n  - ')}` : ' (every response a 2xx with the expected body; no errors, no timeouts)'}`);
  return out;
}

interface CatalogRun {
  startedAt: Date;
  settings: LoadSettings;
  stack: Stack;
  catalog: Catalog;
  expected: Expected;
  results: ScenarioResult[];
  assessment: Assessment;
  warnings: string[];
  appLog: string[];
}

/** The JSON record and the chart beside it; returns their paths. */
function save(run: CatalogRun): { path: string; chart: string } {
  const { catalog, expected: x, assessment: a } = run;
  const path = writeResult(
    'catalog',
    {
      benchmark: 'catalog',
      startedAt: run.startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      verdict: a.verdict,
      problems: a.problems,
      environment: environment(),
      settings: run.settings,
      app: { entry: 'node dist/main.js', env: run.stack.app.env },
      catalog: {
        ...catalog.seeded,
        seededThroughApi: catalog.api.count,
        eventId: catalog.api.id,
        eventBodyBytes: Buffer.byteLength(x.eventBody),
        listFilter: { path: x.filterPath, bodyBytes: Buffer.byteLength(x.filterBody), items: x.filterPage.items.length },
        listSearch: { path: x.searchPath, bodyBytes: Buffer.byteLength(x.searchBody), items: x.searchPage.items.length },
      },
      scenarios: run.results,
      ratios: a.ratios,
      targets: a.targets,
      warnings: run.warnings,
      appLog: run.appLog,
    },
    run.startedAt,
  );
  const chart = writeChartBeside(
    path,
    lineChart({
      title: 'bench:catalog: warm GET /v1/events/{id}, app vs plain Fastify',
      subtitle: `app ${fmt(a.by('event').rps.mean, 0)} req/s = ${fmt(a.eventRatio, 3)}× plain (${fmt(a.baseline.rps.mean, 0)}); at 2 000 req/s p99 ${fmt(a.fixedRate.latencyMs.p99, 1)} ms`,
      leftLabel: '2xx per second',
      rightLabel: 'p99 latency (ms)',
      series: [
        { label: 'plain req/s', values: a.baseline.timeline.map((t) => t.perSecond), axis: 'left', color: '#7f7f7f' },
        { label: 'app req/s', values: a.by('event').timeline.map((t) => t.perSecond), axis: 'left', color: '#1f77b4' },
        { label: 'app p99 ms', values: a.by('event').timeline.map((t) => t.p99Ms), axis: 'right', color: '#ff7f0e' },
        { label: 'p99 ms at 2 000/s', values: a.fixedRate.timeline.map((t) => t.p99Ms), axis: 'right', color: '#2ca02c' },
      ],
      targets: [{ axis: 'right', value: P99_TARGET_MS, label: `p99 target ${P99_TARGET_MS} ms` }],
    }),
  );
  return { path, chart };
}

async function main(): Promise<number> {
  const startedAt = new Date();
  const settings: LoadSettings = loadSettingsFromEnv({ durationSeconds: 10, connections: 50, pipelining: 1, warmupSeconds: 3 });
  const publishedTarget = intEnv('BENCH_EVENTS', 5000);
  const cleanup = new Cleanup(log);
  try {
    const { onLine: onAppLine, lines: appLog } = appWarnings();
    const stack = await startStack(cleanup, log, { appEnv: { LOG_LEVEL: PRODUCTION_LOG_LEVEL }, onAppLine });
    const rss = watchRss({ app: stack.pids.app });
    const catalog = await seedCatalog(stack, publishedTarget);
    const expected = await expectedAnswers(stack.app.url, catalog);
    const plain = await startBaseline(cleanup, expected);
    const contract = await startContractBaseline(cleanup, stack, expected, catalog.api.id);
    const uncached = await startApp(cleanup, log, { databaseUrl: stack.databaseUrl, redisUrl: stack.redisUrl, env: { CATALOG_PAGE_CACHE_MS: '0', LOG_LEVEL: PRODUCTION_LOG_LEVEL } });
    const uncachedRss = watchRss({ uncached: uncached.pid });
    const results: ScenarioResult[] = [];
    for (const scenario of scenariosFor(stack, plain, contract, uncached, expected)) results.push(await measure(scenario, settings, log));
    const memory = rss.stop();
    memory.maxMb.uncached = uncachedRss.stop().maxMb.uncached;
    const assessment = assess(results, memory.maxMb);
    const warnings = warningsOf(results, appLog);
    const out = [...headerLines(settings, catalog.seeded, expected), ...figureLines(results, assessment), ...verdictLines(assessment, warnings)];
    const { path, chart } = save({ startedAt, settings, stack, catalog, expected, results, assessment, warnings, appLog });
    out.push(`chart: ${chart}`);
    return printVerdict(out, path, assessment.verdict);
  } finally {
    await stopEverything(cleanup, log);
  }
}

runBenchmark('catalog', main);
