import { Agent, request } from 'node:http';
import type { DriverResponse } from './closed-loop';

/**
 * Requests over a pool of `node:http` keep-alive connections to one server, each with a deadline:
 * for load drivers whose unit of work is several requests in a row (a hold, then its payment),
 * which `runClosedLoop` (one request per step) does not cover.
 */
export class KeepAliveClient {
  private readonly url: URL;
  private readonly agent: Agent;

  constructor(
    baseUrl: string,
    connections: number,
    private readonly timeoutMs: number,
  ) {
    this.url = new URL(baseUrl);
    this.agent = new Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
  }

  send(method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<DriverResponse> {
    return new Promise<DriverResponse>((resolve, reject) => {
      const all: Record<string, string | number> = { ...headers };
      if (body) all['content-length'] = body.length;
      const outgoing = request({ agent: this.agent, host: this.url.hostname, port: this.url.port, method, path, headers: all }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      outgoing.setTimeout(this.timeoutMs, () => outgoing.destroy(new Error(`no answer within ${this.timeoutMs} ms (timeout)`)));
      outgoing.on('error', reject);
      outgoing.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
