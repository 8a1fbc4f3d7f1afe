import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { baseEnv, spawnApp } from '../support/app';
import { createTestDatabase, TestDatabase } from '../support/database';

/**
 * The built app, traced, exporting over OTLP/HTTP to a receiver of this test (standing in for the
 * ADOT collector sidecar), stopped by SIGTERM right after a request: the span of that request must
 * reach the receiver before the process exits. The batch processor sends every 5 s, and the whole
 * stop here takes well under that, so only the flush at shutdown can deliver it.
 */

interface OtlpSpan {
  name: string;
  kind: number;
  attributes?: { key: string; value: { stringValue?: string } }[];
}
interface OtlpExport {
  resourceSpans: { resource?: { attributes?: { key: string; value: { stringValue?: string } }[] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
}

class OtlpReceiver {
  readonly exports: OtlpExport[] = [];
  private readonly server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/traces') this.exports.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
  spans(): OtlpSpan[] {
    return this.exports.flatMap((e) => e.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)));
  }
  serviceNames(): string[] {
    return this.exports.flatMap((e) =>
      e.resourceSpans.flatMap((r) => (r.resource?.attributes ?? []).filter((a) => a.key === 'service.name').map((a) => a.value.stringValue ?? '')),
    );
  }
}

const attribute = (span: OtlpSpan, key: string) => span.attributes?.find((a) => a.key === key)?.value.stringValue;

describe('traces at shutdown', () => {
  let db: TestDatabase;
  const receiver = new OtlpReceiver();

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await receiver.close();
    await db?.drop();
  });

  it('sends the spans still batched before the process exits', async () => {
    const endpoint = await receiver.start();
    const app = await spawnApp(
      baseEnv(db, {
        OTEL_ENABLED: 'true',
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        OTEL_SERVICE_NAME: 'tickr-shutdown-test',
        SHUTDOWN_DRAIN_DELAY_MS: '0',
        SHUTDOWN_QUIET_MS: '0',
      }),
    );
    const res = await fetch(`${app.url}/v1/events?limit=1&city=Sfax`);
    expect(res.status).toBe(200);
    await res.arrayBuffer();

    const stoppedAt = Date.now();
    expect(await app.stop('SIGTERM')).toBe(0);
    // Faster than the batch processor's 5 s schedule: what arrived was sent by the flush.
    expect(Date.now() - stoppedAt).toBeLessThan(4_000);

    const server = receiver.spans().filter((s) => s.kind === 2 && attribute(s, 'http.route') === '/v1/events');
    expect(server).toHaveLength(1);
    // The query string is personal data (a search, a city): never exported.
    expect(JSON.stringify(receiver.exports)).not.toContain('Sfax');
    expect(new Set(receiver.serviceNames())).toEqual(new Set(['tickr-shutdown-test']));
  });
});
