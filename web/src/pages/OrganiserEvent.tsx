import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { Link } from 'wouter';
import { api, callJson, type EventDto, type Schemas } from '../api/client';
import { formatMoney, problemMessage, translate as t } from '../i18n';
import { EventFields } from './EventFields';
import { fieldErrors, FieldErrors } from './fields';
import { Dashboard, EventOrders, Staff } from './OrganiserPanels';

type Confirming = 'publish' | 'cancel' | null;

/** One event of the organiser: edit, ticket types, image, publish/cancel, sales, orders, staff. */
export default function OrganiserEvent({ id }: { id: string }) {
  const [event, setEvent] = useState<EventDto | null>(null);
  const [form, setForm] = useState<Schemas['CreateEventDto'] | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [message, setMessage] = useState('');
  const [error, setError] = useState('');
  const [confirming, setConfirming] = useState<Confirming>(null);

  const load = useCallback(async () => {
    const { data, error: problem } = await api.GET('/v1/events/{id}', { params: { path: { id } } });
    if (!data) return setError(problemMessage(problem?.code));
    setEvent(data);
    setForm({ title: data.title, description: data.description, category: data.category, venue: data.venue, startsAt: data.startsAt, endsAt: data.endsAt, timezone: data.timezone, currency: data.currency });
  }, [id]);
  useEffect(() => void load(), [load]);

  const outcome = (problem: Schemas['ProblemDocumentDto'] | undefined) => {
    setErrors(fieldErrors(problem));
    setError(problem ? problemMessage(problem.code) : '');
    setMessage(problem ? '' : t('saved'));
  };
  const save = async (e: FormEvent) => {
    e.preventDefault();
    if (!form) return;
    const { error: problem } = await api.PATCH('/v1/events/{id}', { params: { path: { id } }, body: form });
    outcome(problem);
    if (!problem) await load();
  };
  const act = async (what: 'publish' | 'cancel') => {
    setConfirming(null);
    const { error: problem } = what === 'publish'
      ? await api.POST('/v1/events/{id}/publish', { params: { path: { id } } })
      : await api.POST('/v1/events/{id}/cancel', { params: { path: { id } } });
    outcome(problem);
    await load();
  };

  if (!event || !form) return error ? <p role="alert" className="error">{error}</p> : <p>{t('loading')}</p>;
  return (
    <section aria-labelledby="oe-title">
      <h1 id="oe-title">{event.title} · {t(event.status)}</h1>
      <p><Link href={`/door/${event.id}`}>{t('openDoor')}</Link> · <Link href={`/events/${event.id}`}>{t('view')}</Link></p>
      <form className="form" onSubmit={(e) => void save(e)} aria-label={t('edit')}>
        <EventFields value={form} onChange={setForm} errors={errors} />
        <button type="submit">{t('save')}</button>
      </form>
      {message && <p role="status" className="ok">{message}</p>}
      {error && <p role="alert" className="error">{error}</p>}
      <div>
        {event.status === 'draft' && <button type="button" onClick={() => setConfirming('publish')}>{t('publish')}</button>}{' '}
        {event.status !== 'cancelled' && <button type="button" className="secondary" onClick={() => setConfirming('cancel')}>{t('cancelEvent')}</button>}
      </div>
      {confirming && (
        <div role="alertdialog" aria-labelledby="confirm-text" className="card">
          <p id="confirm-text">{confirming === 'publish' ? t('confirmPublish') : t('confirmCancel')}</p>
          <button type="button" onClick={() => void act(confirming)}>{t('confirm')}</button>{' '}
          <button type="button" className="secondary" onClick={() => setConfirming(null)}>{t('back')}</button>
        </div>
      )}
      <ImageUpload event={event} onUploaded={() => void load()} />
      <TicketTypes event={event} onChanged={() => void load()} />
      {event.status !== 'draft' && <Dashboard event={event} />}
      {event.status !== 'draft' && <EventOrders event={event} />}
      <Staff event={event} />
    </section>
  );
}

function ImageUpload({ event, onUploaded }: { event: EventDto; onUploaded: () => void }) {
  const [preview, setPreview] = useState<string | null>(null);
  const [file, setFile] = useState<File | null>(null);
  const [error, setError] = useState('');
  const upload = async (e: FormEvent) => {
    e.preventDefault();
    if (!file) return;
    // Multipart: the generated types give `format: binary` as a string, so a FormData body would need a cast; this call goes by hand.
    const body = new FormData();
    body.append('file', file);
    const { error: problem, response } = await callJson<{ imageUrl: string }>(`/v1/events/${event.id}/image`, { method: 'PUT', body });
    if (response.ok) {
      setError('');
      onUploaded();
    } else setError(problemMessage(problem?.code ?? (response.status === 413 ? 'PAYLOAD_TOO_LARGE' : response.status === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : undefined)));
  };
  return (
    <form onSubmit={(e) => void upload(e)} className="card" aria-labelledby="image-title">
      <h2 id="image-title">{t('image')}</h2>
      {(preview ?? event.imageUrl) && <img className="hero" src={preview ?? event.imageUrl ?? ''} alt={t('image')} />}
      <label>
        {t('imageFile')}
        <input type="file" accept="image/jpeg,image/png,image/webp" onChange={(e) => {
          const chosen = e.target.files?.[0] ?? null;
          setFile(chosen);
          setPreview(chosen ? URL.createObjectURL(chosen) : null);
        }} />
      </label>
      <button type="submit" disabled={!file}>{t('upload')}</button>
      {error && <p role="alert" className="error">{error}</p>}
    </form>
  );
}

function TicketTypes({ event, onChanged }: { event: EventDto; onChanged: () => void }) {
  const [form, setForm] = useState({ name: '', price: '', capacity: '', maxPerOrder: '10' });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState('');
  const add = async (e: FormEvent) => {
    e.preventDefault();
    const digits = new Intl.NumberFormat('en', { style: 'currency', currency: event.currency }).resolvedOptions().maximumFractionDigits ?? 2;
    const { error: problem } = await api.POST('/v1/events/{id}/ticket-types', {
      params: { path: { id: event.id } },
      body: { name: form.name, price: Math.round(Number(form.price) * 10 ** digits), capacity: Number(form.capacity), maxPerOrder: Number(form.maxPerOrder) },
    });
    setErrors(fieldErrors(problem));
    setError(problem ? problemMessage(problem.code) : '');
    if (!problem) {
      setForm({ name: '', price: '', capacity: '', maxPerOrder: '10' });
      onChanged();
    }
  };
  const input = (name: 'name' | 'price' | 'capacity' | 'maxPerOrder', label: string, type = 'number') => (
    <label>
      {label}
      <input type={type} step="any" value={form[name]} aria-invalid={Boolean(errors[name])} onChange={(e) => setForm({ ...form, [name]: e.target.value })} />
      <FieldErrors errors={errors} name={name} />
    </label>
  );
  return (
    <section aria-labelledby="tt-title" className="card">
      <h2 id="tt-title">{t('ticketTypes')}</h2>
      <ul>
        {event.ticketTypes.map((type) => (
          <li key={type.id}>{type.name}: {formatMoney(type.price, type.currency)} · {t('capacity')} {type.capacity} · {t('available', { n: type.available })}</li>
        ))}
      </ul>
      <form className="form" onSubmit={(e) => void add(e)}>
        {input('name', t('name'), 'text')}
        {input('price', t('price', { currency: event.currency }))}
        {input('capacity', t('capacity'))}
        {input('maxPerOrder', t('maxPerOrder', { n: '' }).trim())}
        <button type="submit">{t('addTicketType')}</button>
      </form>
      {error && <p role="alert" className="error">{error}</p>}
    </section>
  );
}
