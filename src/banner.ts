import type { Logger } from 'pino';
import { AppConfig } from './config/app-config';
import { DEMO_ACCOUNTS } from './modules/demo/demo-data.service';

/** The few lines a person at a terminal needs once the app listens: where it is, and how to log in. */
export function banner(url: string, options: { demoLogins: boolean; readyMs: number }): string {
  const lines = [
    '',
    `  Tickr is ready (${options.readyMs} ms)`,
    '',
    `  web app   ${url}/`,
    `  API docs  ${url}/docs`,
    `  health    ${url}/health/ready`,
  ];
  if (options.demoLogins) {
    lines.push('', '  demo logins (created on the first start of the embedded database):');
    for (const a of DEMO_ACCOUNTS) lines.push(`    ${a.role.padEnd(9)} ${a.email.padEnd(28)} ${a.password}`);
  }
  lines.push('', '  Ctrl-C stops it.', '', '');
  return lines.join('\n');
}

/**
 * On a development terminal (readable logs, `LoggingConfig.pretty`), the banner; everywhere else
 * the one JSON line a log pipeline expects.
 */
export function announceReady(log: Logger, config: AppConfig, ready: { url: string; readyMs: number; demoLogins: boolean }): void {
  if (config.logging.pretty && process.stdout.isTTY) {
    process.stdout.write(banner(ready.url, ready));
  } else {
    log.info({ url: ready.url, readyMs: ready.readyMs, env: config.env }, 'Tickr is ready');
  }
}
