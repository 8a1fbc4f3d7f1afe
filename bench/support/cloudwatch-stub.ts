import { randomUUID } from 'node:crypto';
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
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

export async function startCloudWatchStub(cleanup: Cleanup, log: Log): Promise<CloudWatchStub> {
  const started = performance.now();
  const calls: StubCall[] = [];
  const totals: MetricTotals = {};
  const hung = new Set<ServerResponse>();
  const stub = { mode: 'ok' as StubMode };

  const handle = (req: IncomingMessage, res: ServerResponse, raw: Buffer) => {
    const at = performance.now() - started;
    const gzip = /gzip/i.test(String(req.headers['content-encoding'] ?? ''));
    const contentType = String(req.headers['content-type'] ?? '');
    const target = String(req.headers['x-amz-target'] ?? '');
    const call: StubCall = {
      at,
      mode: stub.mode,
      protocol: 'unknown',
      status: 400,
      datapoints: 0,
      bodyBytes: raw.length,
      gzip,
      signed: String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256'),
    };
    calls.push(call);
    let data: Datum[] | undefined;
    try {
      const body = gzip ? gunzipSync(raw) : raw;
      if (req.method === 'POST' && contentType.includes('application/x-amz-json') && target.endsWith('.PutMetricData')) {
        call.protocol = 'json';
        data = parseJson(body);
      } else if (req.method === 'POST' && contentType.includes('application/x-www-form-urlencoded')) {
        data = parseQuery(body);
        if (data) call.protocol = 'query';
      }
    } catch {
      data = undefined;
    }
    if (!data) {
      call.protocol = 'unknown';
      res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' });
      res.end(JSON.stringify({ __type: 'InvalidAction', message: `bench stub: not a PutMetricData request (${req.method} ${req.url} ${contentType} ${target})` }));
      return;
    }
    call.datapoints = data.length;
    const requestId = randomUUID();
    if (stub.mode === 'hang') {
      call.status = 'hung';
      hung.add(res);
      res.on('close', () => {
        hung.delete(res);
        call.abandonedAfterMs = performance.now() - started - at;
      });
      return;
    }
    if (stub.mode === 'error') {
      call.status = 500;
      if (call.protocol === 'json') {
        res.writeHead(500, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': requestId, 'x-amzn-query-error': 'InternalServiceError;Receiver' });
        res.end(JSON.stringify({ __type: 'InternalServiceFault', message: 'bench stub: simulated CloudWatch outage' }));
      } else {
        res.writeHead(500, { 'content-type': 'text/xml' });
        res.end(
          `<ErrorResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><Error><Type>Receiver</Type><Code>InternalServiceError</Code>` +
            `<Message>bench stub: simulated CloudWatch outage</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
        );
      }
      return;
    }
    call.status = 200;
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
    if (call.protocol === 'json') {
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': requestId });
      res.end('{}');
    } else {
      res.writeHead(200, { 'content-type': 'text/xml' });
      res.end(
        `<PutMetricDataResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></PutMetricDataResponse>`,
      );
    }
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks)));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
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
      return stub.mode;
    },
    set mode(mode: StubMode) {
      stub.mode = mode;
    },
    calls,
    totals,
    accepted: () => calls.filter((c) => c.status === 200),
    hanging: () => hung.size,
    close,
  };
}
