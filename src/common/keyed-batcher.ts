/** One item's outcome in a batch: its own value or its own error. */
export type Settled<O> = { ok: true; value: O } | { ok: false; error: unknown };

interface Pending<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
}

/**
 * Natural batching per key: while a batch for a key is being processed, the items that arrive for
 * that key wait, and are processed together in the next batch (up to `maxBatch`), each answered
 * with its own outcome. An idle key processes its first item at once, so batching costs no
 * latency at low load and grows with it. Batches of different keys run concurrently; batches of
 * one key never do.
 */
export class KeyedBatcher<I, O> {
  private readonly queues = new Map<string, Pending<I, O>[]>();

  constructor(
    /** Processes one batch; must return one outcome per item, in order. A throw fails the whole batch. */
    private readonly process: (key: string, items: I[]) => Promise<Settled<O>[]>,
    private readonly maxBatch: number,
  ) {
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError('maxBatch must be a positive integer');
  }

  submit(key: string, item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      const queue = this.queues.get(key);
      if (queue) {
        queue.push({ item, resolve, reject });
        return;
      }
      const fresh: Pending<I, O>[] = [{ item, resolve, reject }];
      this.queues.set(key, fresh);
      void this.drain(key, fresh);
    });
  }

  /** Keys with a batch in progress (for metrics and tests). */
  get activeKeys(): number {
    return this.queues.size;
  }

  private async drain(key: string, queue: Pending<I, O>[]): Promise<void> {
    try {
      while (queue.length > 0) {
        const batch = queue.splice(0, this.maxBatch);
        let outcomes: Settled<O>[];
        try {
          outcomes = await this.process(key, batch.map((p) => p.item));
          if (outcomes.length !== batch.length) throw new Error(`batch of ${batch.length} answered with ${outcomes.length} outcomes`);
        } catch (error) {
          for (const pending of batch) pending.reject(error);
          continue;
        }
        outcomes.forEach((outcome, i) => (outcome.ok ? batch[i].resolve(outcome.value) : batch[i].reject(outcome.error)));
      }
    } finally {
      this.queues.delete(key);
    }
  }
}
