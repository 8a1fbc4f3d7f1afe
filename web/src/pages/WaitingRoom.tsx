import { useEffect, useState } from 'react';
import { api, authFetch, type EventDto, type Schemas } from '../api/client';
import { problemMessage, translate as t } from '../i18n';

/** Joining answers without a token; reading the entry carries it once admitted. */
type QueueEntry = Schemas['QueueJoinDto'] & Partial<Pick<Schemas['QueueStatusDto'], 'admissionToken'>>;

export function waitingRoomOf(event: EventDto): { enabled: boolean } {
  return { enabled: event.waitingRoom.enabled };
}

/** Join, then follow the position (the stream when it works, polling every 3 s otherwise) until admitted. */
export function WaitingRoom({ eventId, onAdmitted }: { eventId: string; onAdmitted: (token: string) => void }) {
  const [entry, setEntry] = useState<QueueEntry | null>(null);
  const [error, setError] = useState('');

  const join = async () => {
    const { data, error: problem } = await api.POST('/v1/events/{id}/queue', { params: { path: { id: eventId } } });
    if (data) setEntry(data);
    else setError(problemMessage(problem?.code));
  };

  useEffect(() => {
    if (!entry || entry.admissionToken) return;
    const abort = new AbortController();
    const poll = window.setInterval(async () => {
      const { data } = await api.GET('/v1/events/{id}/queue/{queueId}', { params: { path: { id: eventId, queueId: entry.queueId } } });
      if (data) setEntry(data);
    }, 3000);
    void followStream(`/v1/events/${eventId}/queue/${entry.queueId}/stream`, abort.signal, (name, data) => {
      if (name === 'position' && typeof data.position === 'number') setEntry((e) => (e ? { ...e, position: Number(data.position) } : e));
      if (name === 'admitted' && typeof data.admissionToken === 'string') setEntry((e) => (e ? { ...e, admitted: true, admissionToken: String(data.admissionToken) } : e));
    });
    return () => {
      abort.abort();
      window.clearInterval(poll);
    };
  }, [entry?.queueId, entry?.admissionToken, eventId]);

  useEffect(() => {
    if (entry?.admissionToken) onAdmitted(entry.admissionToken);
  }, [entry?.admissionToken, onAdmitted]);

  return (
    <section aria-labelledby="queue-title" className="card">
      <h2 id="queue-title">{t('waitingRoom')}</h2>
      {entry ? (
        <p aria-live="polite">{entry.admissionToken ? t('admitted') : entry.position === null ? t('beforeOpening') : t('position', { n: entry.position })}</p>
      ) : (
        <button type="button" onClick={() => void join()}>{t('joinQueue')}</button>
      )}
      {error && <p role="alert" className="error">{error}</p>}
    </section>
  );
}

/**
 * Server-sent events over fetch, so the bearer header goes along (EventSource cannot send it).
 * Calls `onEvent(name, data)` for each event whose data is a JSON object.
 */
export async function followStream(
  path: string,
  signal: AbortSignal,
  onEvent: (name: string, data: Record<string, unknown>) => void,
): Promise<void> {
  try {
    const res = await authFetch(new Request(new URL(path, location.origin), { signal, headers: { accept: 'text/event-stream' } }));
    if (!res.ok || !res.body) return;
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const name = /^event: ?(.*)$/m.exec(block)?.[1] ?? 'message';
        const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
        try {
          const parsed: unknown = JSON.parse(data || '{}');
          if (typeof parsed === 'object' && parsed !== null) onEvent(name, { ...parsed });
        } catch {
          onEvent(name, {});
        }
      }
    }
  } catch {
    // aborted or the connection dropped: the caller polls as well
  }
}
