import { useEffect, useState, type FormEvent } from 'react';
import { Link, useLocation } from 'wouter';
import { api, type EventDto, type Schemas } from '../api/client';
import { formatDate, problemMessage, translate as t } from '../i18n';
import { EventFields, emptyEvent } from './EventFields';
import { fieldErrors } from './fields';

/** The organiser's events of every status, and a new one. */
export default function Organiser() {
  const [events, setEvents] = useState<EventDto[] | null>(null);
  const [form, setForm] = useState<Schemas['CreateEventDto']>(emptyEvent());
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState('');
  const [, navigate] = useLocation();

  useEffect(() => {
    void api.GET('/v1/organiser/events', { params: { query: { limit: 100 } } }).then(({ data, error: problem }) => {
      if (data) setEvents(data.items);
      else setError(problemMessage(problem?.code));
    });
  }, []);

  const create = async (e: FormEvent) => {
    e.preventDefault();
    const { data, error: problem } = await api.POST('/v1/events', { body: form });
    if (data) return navigate(`/organiser/events/${data.id}`);
    setErrors(fieldErrors(problem));
    setError(problemMessage(problem?.code));
  };

  return (
    <section aria-labelledby="org-title">
      <h1 id="org-title">{t('myEvents')}</h1>
      {events && (
        <table>
          <thead><tr><th>{t('title')}</th><th>{t('when')}</th><th>{t('status')}</th></tr></thead>
          <tbody>
            {events.map((event) => (
              <tr key={event.id}>
                <td><Link href={`/organiser/events/${event.id}`}>{event.title}</Link></td>
                <td>{formatDate(event.startsAt, event.timezone)}</td>
                <td>{t(event.status)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>{t('newEvent')}</h2>
      <form className="form" onSubmit={(e) => void create(e)}>
        <EventFields value={form} onChange={setForm} errors={errors} />
        <button type="submit">{t('newEvent')}</button>
      </form>
      {error && <p role="alert" className="error">{error}</p>}
    </section>
  );
}
