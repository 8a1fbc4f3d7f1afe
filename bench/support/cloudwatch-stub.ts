import { randomUUID } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { gunzipSync } from 'node:zlib';
import { Cleanup } from './cleanup';
import type { Log } from './stack';

/**
 * A CloudWatch stand-in on loopback that accepts PutMetricData, counts what it gets, and can play an
 * outage: every call answered 500 (`error`), or accepted and never answered (`hang`).
 *
 * `@aws-sdk/client-cloudwatch` 3.1162 speaks AWS JSON 1.0 to CloudWatch (`AwsJson1_0Protocol` with
 * `awsQueryCompatible`): `POST /`, `Content-Type: application/x-amz-json-1.0`,
 * `X-Amz-Target: GraniteServiceVersion20100801.PutMetricData`, a JSON body `{Namespace, MetricData:
 * [{MetricName, Dimensions, Timestamp (epoch seconds), StatisticValues, Unit}]}`, gzip-compressed
 * (`Content-Encoding: gzip`) from 10 KiB up; a success is a 200 with `{}`. Older SDKs used the query
 * protocol (`application/x-www-form-urlencoded`, `Action=PutMetricData`, XML answer): understood too,
 * so the stub does not depend on the SDK's version. Anything else is answered 400 and counted as unknown.
 */

export type StubMode = 'ok' | 'error' | 'hang';

export interface StubCall {
  /** ms since the stub started, at arrival. */
  at: number;
  mode: StubMode;
  protocol: 'json' | 'query' | 'unknown';
  status: number | 'hung';
  datapoints: number;
  bodyBytes: number;
  gzip: boolean;
  signed: boolean;
  /** Hung calls: ms from arrival until the client gave up and closed the connection. */
  abandonedAfterMs?: number;
}

/** Per metric name: the sum of SampleCount and of Sum over every datum accepted (200). */
export type MetricTotals = Record<string, { sampleCount: number; sum: number; datapoints: number }>;

export interface CloudWatchStub {
  endpoint: string;
  mode: StubMode;
  readonly calls: StubCall[];
  readonly totals: MetricTotals;
  /** Calls answered 200 (PutMetricData accepted). */
  accepted(): StubCall[];
  /** Calls still hanging (accepted in `hang` mode and not yet abandoned by the client). */
  hanging(): number;
  close(): Promise<void>;
}

interface Datum {
  MetricName?: string;
  StatisticValues?: { SampleCount?: number; Sum?: number };
  Value?: number;
  Values?: number[];
  Counts?: number[];
}

function parseJson(body: Buffer): Datum[] | undefined {
  const parsed = JSON.parse(body.toString('utf8')) as { MetricData?: Datum[] };
  return Array.isArray(parsed.MetricData) ? parsed.MetricData : undefined;
}

function parseQuery(body: Buffer): Datum[] | undefined {
  const params = new URLSearchParams(body.toString('utf8'));
  if (params.get('Action') !== 'PutMetricData') return undefined;
  const data = new Map<number, Datum>();
  for (const [key, value] of params) {
    const m = /^MetricData\.member\.(\d+)\.(.+)$/.exec(key);
    if (!m) continue;
    const datum = data.get(Number(m[1])) ?? {};
    data.set(Number(m[1]), datum);
    if (m[2] === 'MetricName') datum.MetricName = value;
    else if (m[2] === 'StatisticValues.SampleCount') datum.StatisticValues = { ...datum.StatisticValues, SampleCount: Number(value) };
    else if (m[2] === 'StatisticValues.Sum') datum.StatisticValues = { ...datum.StatisticValues, Sum: Number(value) };
    else if (m[2] === 'Value') datum.Value = Number(value);
  }
  return [...data.values()];
}

/** What the request says, in either protocol; `undefined` data when it is not a PutMetricData call. */
function parseRequest(req: IncomingMessage, raw: Buffer): { protocol: StubCall['protocol']; data?: Datum[]; contentType: string; target: string } {
  const gzip = /gzip/i.test(String(req.headers['content-encoding'] ?? ''));
  const contentType = String(req.headers['content-type'] ?? '');
  const target = String(req.headers['x-amz-target'] ?? '');
  try {
    const body = gzip ? gunzipSync(raw) : raw;
    if (req.method === 'POST' && contentType.includes('application/x-amz-json') && target.endsWith('.PutMetricData')) {
      const data = parseJson(body);
      return { protocol: data ? 'json' : 'unknown', data, contentType, target };
    }
    if (req.method === 'POST' && contentType.includes('application/x-www-form-urlencoded')) {
      const data = parseQuery(body);
      return { protocol: data ? 'query' : 'unknown', data, contentType, target };
    }
  } catch {
    // not understood: answered 400 below
  }
  return { protocol: 'unknown', contentType, target };
}

/** Adds accepted data to the totals per metric name (StatisticSets, value lists or single values). */
function addToTotals(totals: MetricTotals, data: Datum[]): void {
  for (const d of data) {
    const name = d.MetricName ?? '(unnamed)';
    const t = (totals[name] ??= { sampleCount: 0, sum: 0, datapoints: 0 });
    t.datapoints++;
    if (d.StatisticValues) {
      t.sampleCount += d.StatisticValues.SampleCount ?? 0;
      t.sum += d.StatisticValues.Sum ?? 0;
    } else if (d.Values) {
      const counts = d.Counts ?? d.Values.map(() => 1);
      d.Values.forEach((v, i) => {
        t.sampleCount += counts[i];
        t.sum += v * counts[i];
      });
    } else if (d.Value !== undefined) {
      t.sampleCount += 1;
      t.sum += d.Value;
    }
  }
}

/** The simulated outage's answer, in the caller's protocol. */
function answerOutage(res: ServerResponse, protocol: StubCall['protocol'], requestId: string): void {
  if (protocol === 'json') {
    res.writeHead(500, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': requestId, 'x-amzn-query-error': 'InternalServiceError;Receiver' });
    res.end(JSON.stringify({ __type: 'InternalServiceFault', message: 'bench stub: simulated CloudWatch outage' }));
  } else {
    res.writeHead(500, { 'content-type': 'text/xml' });
    res.end(
      `<ErrorResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><Error><Type>Receiver</Type><Code>InternalServiceError</Code>` +
        `<Message>bench stub: simulated CloudWatch outage</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
    );
  }
}

/** PutMetricData accepted, in the caller's protocol. */
function answerAccepted(res: ServerResponse, protocol: StubCall['protocol'], requestId: string): void {
  if (protocol === 'json') {
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': requestId });
    res.end('{}');
  } else {
    res.writeHead(200, { 'content-type': 'text/xml' });
    res.end(
      `<PutMetricDataResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></PutMetricDataResponse>`,
    );
  }
}

/** An HTTP server on a free loopback port that hands each request to `handle` with its whole body. */
async function listenOnLoopback(handle: (req: IncomingMessage, res: ServerResponse, raw: Buffer) => void): Promise<{ endpoint: string; server: Server }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks)));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

interface StubState {
  started: number;
  mode: StubMode;
  calls: StubCall[];
  totals: MetricTotals;
  hung: Set<ServerResponse>;
}

/** Every request recorded as a call, then answered as the current mode says. */
function handlerFor(state: StubState): (req: IncomingMessage, res: ServerResponse, raw: Buffer) => void {
  return (req: IncomingMessage, res: ServerResponse, raw: Buffer) => {
    const at = performance.now() - state.started;
    const parsed = parseRequest(req, raw);
    const call: StubCall = {
      at,
      mode: state.mode,
      protocol: parsed.protocol,
      status: 400,
      datapoints: 0,
      bodyBytes: raw.length,
      gzip: /gzip/i.test(String(req.headers['content-encoding'] ?? '')),
      signed: String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256'),
    };
    state.calls.push(call);
    if (!parsed.data) {
      res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' });
      res.end(JSON.stringify({ __type: 'InvalidAction', message: `bench stub: not a PutMetricData request (${req.method} ${req.url} ${parsed.contentType} ${parsed.target})` }));
      return;
    }
    call.datapoints = parsed.data.length;
    const requestId = randomUUID();
    if (state.mode === 'hang') {
      call.status = 'hung';
      state.hung.add(res);
      res.on('close', () => {
        state.hung.delete(res);
        call.abandonedAfterMs = performance.now() - state.started - at;
      });
      return;
    }
    if (state.mode === 'error') {
      call.status = 500;
      answerOutage(res, call.protocol, requestId);
      return;
    }
    call.status = 200;
    addToTotals(state.totals, parsed.data);
    answerAccepted(res, call.protocol, requestId);
  };
}

export async function startCloudWatchStub(cleanup: Cleanup, log: Log): Promise<CloudWatchStub> {
  const state: StubState = { started: performance.now(), mode: 'ok', calls: [], totals: {}, hung: new Set() };
  const { calls, totals, hung } = state;
  const handle = handlerFor(state);
  const { endpoint, server } = await listenOnLoopback(handle);
  const close = () =>
    new Promise<void>((resolve) => {
      for (const res of hung) res.destroy();
      server.closeAllConnections();
      server.close(() => resolve());
    });
  cleanup.add('cloudwatch stub', close, () => server.closeAllConnections());
  log(`CloudWatch stub on ${endpoint}`);
  return {
    endpoint,
    get mode() {
      return state.mode;
    },
    set mode(mode: StubMode) {
      state.mode = mode;
    },
    calls,
    totals,
    accepted: () => calls.filter((c) => c.status === 200),
    hanging: () => hung.size,
    close,
  };
}
