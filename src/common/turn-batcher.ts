import DataLoader from 'dataloader';

/**
 * Requests to a store that arrive in one turn of the event loop, sent together when the turn ends
 * (`setImmediate`), by DataLoader without its cache: every request is answered by a call sent after
 * it arrived, never by one already on its way, so whatever the store had acknowledged before the
 * request arrived is seen by it. Calls of successive turns may be in flight together; one store
 * connection keeps them in order. Under load, one call answers a whole turn's requests; an idle
 * process sends each at the end of its turn, without waiting for anything. `load` rejects with the
 * call's error when the call fails.
 */
export function turnBatcher<K, V>(call: (keys: readonly K[]) => Promise<V[]>, maxBatchSize: number): DataLoader<K, V> {
  return new DataLoader<K, V>(call, { cache: false, batchScheduleFn: (dispatch) => setImmediate(dispatch), maxBatchSize });
}
