import { useEffect, useState } from 'react';
import { Link, useLocation } from 'wouter';
import { api, currentSession, type EventDto } from '../api/client';
import { formatDate, formatMoney, problemMessage, translate as t } from '../i18n';
import { WaitingRoom, waitingRoomOf } from './WaitingRoom';

export function EventPage({ id }: { id: string }) {
  const [event, setEvent] = useState<EventDto | null>(null);
  const [error, setError] = useState('');
  const [quantities, setQuantities] = useState<Record<string, number>>({});
  const [admission, setAdmission] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [, navigate] = useLocation();

  useEffect(() => {
    void api.GET('/v1/events/{id}', { params: { path: { id } } }).then(({ data, error: problem }) => {
      if (data) setEvent(data);
      else setError(problemMessage(problem?.code));
    });
  }, [id]);

  if (!event) return error ? <p role="alert" className="error">{error}</p> : <p>{t('loading')}</p>;
  const room = waitingRoomOf(event);
  const session = currentSession();
  const mustQueue = room.enabled && !admission;

  const reserve = async () => {
    const items = Object.entries(quantities)
      .filter(([, quantity]) => quantity > 0)
      .map(([ticketTypeId, quantity]) => ({ ticketTypeId, quantity }));
    if (items.length === 0) return setError(t('pickSome'));
    setBusy(true);
    const headers: { 'Idempotency-Key': string; 'Admission-Token'?: string } = { 'Idempotency-Key': crypto.randomUUID() };
    if (admission) headers['Admission-Token'] = admission;
    const { data, error: problem } = await api.POST('/v1/orders', { params: { header: headers }, body: { eventId: event.id, items } });
    setBusy(false);
    if (data) navigate(`/checkout/${data.id}`);
    else setError(problemMessage(problem?.code));
  };

  return (
    <article aria-labelledby="event-title">
      {event.imageUrl && <img className="hero" src={event.imageUrl} alt={event.title} />}
      <h1 id="event-title">{event.title}</h1>
      <p>{event.description}</p>
      <dl>
        <dt>{t('when')}</dt>
        <dd>{formatDate(event.startsAt, event.timezone)}</dd>
        <dt>{t('venue')}</dt>
        <dd>{event.venue.name}, {event.venue.address}, {event.venue.city}</dd>
      </dl>
      {room.enabled && !admission && session && <WaitingRoom eventId={event.id} onAdmitted={setAdmission} />}
      <h2>{t('tickets')}</h2>
      <ul className="cards">
        {event.ticketTypes.map((type) => (
          <li key={type.id} className="card">
            <h3>{type.name}</h3>
            <p>{formatMoney(type.price, type.currency)}</p>
            <p>{type.available > 0 ? t('available', { n: type.available }) : t('soldOut')}</p>
            <label>
              {t('quantity', { name: type.name })}
              <input
                type="number"
                min={0}
                inputMode="numeric"
                value={quantities[type.id] ?? 0}
                disabled={type.available === 0}
                aria-describedby={`limit-${type.id}`}
                onChange={(e) => setQuantities({ ...quantities, [type.id]: Math.max(0, Number(e.target.value) || 0) })}
              />
            </label>
            <small id={`limit-${type.id}`}>{t('maxPerOrder', { n: type.maxPerOrder })}</small>
          </li>
        ))}
      </ul>
      {error && <p role="alert" className="error">{error}</p>}
      {session ? (
        <button type="button" disabled={busy || mustQueue} onClick={() => void reserve()}>{t('reserve')}</button>
      ) : (
        <p><Link href="/login">{t('loginToBuy')}</Link></p>
      )}
    </article>
  );
}
