import { createServer, Server, Socket } from 'node:net';

/**
 * A TCP relay between the app and a real server (Postgres, Redis) that the test can cut: `cut()`
 * stops listening and drops every relayed connection, so the app meets exactly what an outage gives
 * it (reset connections, then ECONNREFUSED); `restore()` listens again on the same port.
 */
export interface TcpCut {
  port: number;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function tcpCut(target: { host: string; port: number }): Promise<TcpCut> {
  const sockets = new Set<Socket>();
  const relay = (client: Socket) => {
    const upstream = new Socket();
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    upstream.connect(target.port, target.host, () => void client.pipe(upstream).pipe(client));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  };
  let server: Server = createServer(relay);
  const listen = (port: number) => new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });
  const port = await listen(0);
  const stop = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
  };
  return {
    port,
    cut: stop,
    restore: async () => {
      server = createServer(relay);
      await listen(port);
    },
    close: stop,
  };
}
