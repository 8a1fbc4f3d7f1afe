import { Injectable, Logger } from '@nestjs/common';
import { BackgroundLoop } from '../../common/background-loop';
import { BackgroundWorkers } from '../../common/background-workers';
import { inSpan } from '../../common/tracing';
import { OutboxConfig } from '../../config';
import { Transactions } from '../../database/transaction';
import { UndeliverableError } from '../../ports/email-sender.port';
import { Metrics } from '../../ports/metrics.port';
import { OutboxDispatcher } from './outbox-dispatcher';
import { ClaimedMessage, OutboxRepository } from './outbox.repository';

const PURGE_EVERY_MS = 10 * 60_000;
const PURGE_BATCH = 5_000;
/** Sent rows are kept this long (a week), for support questions, then purged. */
const SENT_RETENTION_SECONDS = 7 * 86_400;
/** Batches per pass, so a backlog cannot keep one pass running forever; the next tick continues. */
const MAX_BATCHES_PER_PASS = 100;

/** Full jitter over an exponential backoff: base·2^(attempt−1), capped, times a random share in [0.5, 1). */
export function retryDelayMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const exponential = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return exponential * (0.5 + random() / 2);
}

/**
 * Sends what the outbox holds, in every instance with WORKER_ENABLED. A pass claims due rows in
 * batches (`FOR UPDATE SKIP LOCKED`, so relays never share a row), sends them while holding their
 * locks, and writes each outcome in the same transaction: sent; or failed, to be retried after an
 * exponential backoff with jitter; or, after the last attempt or an undeliverable error, dead (logged
 * at error level and counted). A crash between a send and its commit leaves the row pending, so it
 * is sent again once: delivery is at least once, and every message carries its row id so a repeat
 * is recognisable downstream.
 */
@Injectable()
export class OutboxRelay {
  private readonly logger = new Logger('OutboxRelay');
  private readonly loop: BackgroundLoop;
  private lastPurge = 0;

  constructor(
    private readonly tx: Transactions,
    private readonly outbox: OutboxRepository,
    private readonly dispatcher: OutboxDispatcher,
    private readonly metrics: Metrics,
    private readonly config: OutboxConfig,
    workers: BackgroundWorkers,
  ) {
    // Stopped at SIGTERM: the batch in flight finishes and records its outcomes, no new one starts.
    this.loop = workers.loop('outbox relay', config.pollIntervalMs, () => this.pass(), this.logger);
  }

  /** Runs a pass now, or right after the one in progress (after a commit that queued messages). */
  kick(): void {
    this.loop.kick();
  }

  /** Sends batches until nothing is due; returns how many messages it handled. */
  async pass(): Promise<number> {
    let handled = 0;
    for (let i = 0; i < MAX_BATCHES_PER_PASS && !this.loop.stopped; i++) {
      const n = await this.relayBatch();
      handled += n;
      if (n < this.config.batchSize) break;
    }
    if (Date.now() - this.lastPurge > PURGE_EVERY_MS && !this.loop.stopped) {
      this.lastPurge = Date.now();
      const purged = await this.outbox.purgeSent(this.tx.sql, SENT_RETENTION_SECONDS, PURGE_BATCH);
      if (purged > 0) this.logger.log(`purged ${purged} sent outbox row(s)`);
    }
    return handled;
  }

  /** One batch: claim, send concurrently, record every outcome, commit. */
  async relayBatch(): Promise<number> {
    const { batchSize, maxAttempts, retryBaseMs, retryMaxMs, sendTimeoutMs } = this.config;
    let dead: { message: ClaimedMessage; error: string }[] = [];
    const handled = await this.tx.run(async (sql) => {
      const claimed = await this.outbox.claimDue(sql, batchSize);
      if (claimed.length === 0) return 0;
      // Each send is cancelled (not merely abandoned) at its timeout, and the row stays locked until
      // it has settled: a retry can never run while an earlier attempt is still delivering.
      const signals = claimed.map(() => AbortSignal.timeout(sendTimeoutMs));
      const outcomes = await Promise.allSettled(claimed.map((m, i) => this.tracedSend(m, signals[i])));
      const sent: string[] = [];
      const failures: { id: string; error: string; retryInMs: number; dead: boolean }[] = [];
      dead = [];
      outcomes.forEach((outcome, i) => {
        const message = claimed[i];
        if (outcome.status === 'fulfilled') {
          sent.push(message.id);
          return;
        }
        const error = signals[i].aborted
          ? `send timed out after ${sendTimeoutMs} ms and was cancelled`
          : outcome.reason instanceof Error
            ? `${outcome.reason.name}: ${outcome.reason.message}`
            : String(outcome.reason);
        const attempt = message.attempts + 1;
        const isDead = outcome.reason instanceof UndeliverableError || attempt >= maxAttempts;
        failures.push({ id: message.id, error, retryInMs: retryDelayMs(attempt, retryBaseMs, retryMaxMs), dead: isDead });
        if (isDead) dead.push({ message, error });
      });
      await this.outbox.markSent(sql, sent);
      await this.outbox.markFailed(sql, failures);
      return claimed.length;
    });
    for (const { message, error } of dead) {
      this.logger.error(
        { outbox: { id: message.id, channel: message.channel, template: message.template, cause: message.cause, attempts: message.attempts + 1 }, error },
        'notification is dead: it will not be retried',
      );
      this.metrics.count('OutboxDead');
    }
    return handled;
  }

  /** One send, traced as `notifications.outbox_send`: the row id, channel, template, attempt and outcome; never the recipient. */
  private tracedSend(message: ClaimedMessage, signal: AbortSignal): Promise<void> {
    const attributes = {
      'tickr.outbox.id': message.id,
      'tickr.outbox.channel': message.channel,
      'tickr.outbox.template': message.template,
      'tickr.outbox.attempt': message.attempts + 1,
    };
    return inSpan('notifications.outbox_send', attributes, async (span) => {
      try {
        await this.dispatcher.send(message, signal);
        span.setAttribute('tickr.outbox.outcome', 'sent');
      } catch (error) {
        span.setAttribute('tickr.outbox.outcome', error instanceof UndeliverableError ? 'undeliverable' : 'failed');
        throw error;
      }
    });
  }
}
