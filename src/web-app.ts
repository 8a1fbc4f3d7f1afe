import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';

/** Where `npm run build:web` writes the single-page app (web/dist beside dist/). */
export const WEB_DIST_DIR = resolve(__dirname, '../web/dist');

/** Paths that belong to the API or the platform: never answered with the app shell. */
const NOT_THE_APP = /^\/(v1|health|docs|files)(\/|$|\?)/;

/** Files whose names change whenever their bytes do: cached for a year, never revalidated. */
export function immutableFiles(root: string, prefix: string) {
  return { root, prefix, decorateReply: false, index: false, list: false, dotfiles: 'deny', immutable: true, maxAge: '365d' } as const;
}

export interface WebAppOptions {
  distDir?: string;
  /**
   * Extra headers on the app shell (index.html): the hook for a Content-Security-Policy
   * (the helmet helper's `webAppCsp`). Hashed assets never need one.
   */
  shellHeaders?: () => Record<string, string>;
}

/**
 * The web app served by this process: hashed assets under /assets/ cached for a year, and the shell
 * (never cached, so a deploy is seen at once) for every GET outside the API, so client-side routes
 * survive a reload. Unknown /v1 paths still reach Nest's 404 problem document.
 */
export async function serveWebApp(app: NestFastifyApplication, options: WebAppOptions = {}): Promise<void> {
  const distDir = options.distDir ?? WEB_DIST_DIR;
  const fastify = app.getHttpAdapter().getInstance();
  const assets = resolve(distDir, 'assets');
  if (existsSync(assets)) {
    await app.register(fastifyStatic, immutableFiles(assets, '/assets/'));
  }
  const shell = loadShell(distDir);
  fastify.get('/*', async (request: FastifyRequest, reply: FastifyReply) => {
    if (NOT_THE_APP.test(request.url) || request.url.startsWith('/assets/')) return reply.callNotFound();
    return reply
      .status(200)
      .headers({ 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache', ...options.shellHeaders?.() })
      .send(shell());
  });
}

/** The built index.html, read once; before `npm run build:web` a page that says how to build it. */
function loadShell(distDir: string): () => string {
  const file = resolve(distDir, 'index.html');
  let cached: string | undefined;
  return () => {
    if (cached !== undefined) return cached;
    if (!existsSync(file)) {
      return '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Tickr</title></head>' +
        '<body><main><h1>Tickr</h1><p>The web app is not built: run <code>npm run build:web</code>.</p></main></body></html>';
    }
    cached = readFileSync(file, 'utf8');
    return cached;
  };
}
