import type { Schemas } from '../api/client';
import { translate as t } from '../i18n';
import { FieldErrors } from './fields';

type EventInput = Schemas['CreateEventDto'];
const CATEGORIES: EventInput['category'][] = ['concert', 'festival', 'theatre', 'sport', 'conference', 'other'];

export function emptyEvent(): EventInput {
  const start = new Date(Date.now() + 30 * 86_400_000);
  start.setUTCHours(19, 0, 0, 0);
  return {
    title: '', description: '', category: 'concert', venue: { name: '', city: '', address: '' },
    startsAt: start.toISOString(), endsAt: new Date(start.getTime() + 3 * 3_600_000).toISOString(),
    timezone: Intl.DateTimeFormat().resolvedOptions().timeZone, currency: 'EUR',
  };
}

/** `datetime-local` speaks the browser's local time; the API speaks UTC ISO strings. */
function toLocalInput(iso: string): string {
  const d = new Date(iso);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}

export function EventFields({ value, onChange, errors }: { value: EventInput; onChange: (v: EventInput) => void; errors: Record<string, string> }) {
  const text = (name: 'title' | 'description' | 'timezone' | 'currency', label: string) => (
    <label>
      {label}
      <input value={value[name]} aria-invalid={Boolean(errors[name])} onChange={(e) => onChange({ ...value, [name]: e.target.value })} />
      <FieldErrors errors={errors} name={name} />
    </label>
  );
  const venue = (name: 'name' | 'city' | 'address', label: string) => (
    <label>
      {label}
      <input value={value.venue[name]} aria-invalid={Boolean(errors[`venue.${name}`])} onChange={(e) => onChange({ ...value, venue: { ...value.venue, [name]: e.target.value } })} />
      <FieldErrors errors={errors} name={`venue.${name}`} />
    </label>
  );
  const when = (name: 'startsAt' | 'endsAt', label: string) => (
    <label>
      {label}
      <input type="datetime-local" value={toLocalInput(value[name])} onChange={(e) => e.target.value && onChange({ ...value, [name]: new Date(e.target.value).toISOString() })} />
      <FieldErrors errors={errors} name={name} />
    </label>
  );
  return (
    <>
      {text('title', t('title'))}
      {text('description', t('description'))}
      <label>
        {t('category')}
        <select value={value.category} onChange={(e) => onChange({ ...value, category: CATEGORIES.find((c) => c === e.target.value) ?? 'other' })}>
          {CATEGORIES.map((c) => <option key={c} value={c}>{t(c)}</option>)}
        </select>
      </label>
      {venue('name', t('venue'))}
      {venue('city', t('city'))}
      {venue('address', t('address'))}
      {when('startsAt', t('startsAt'))}
      {when('endsAt', t('endsAt'))}
      {text('timezone', t('timezone'))}
      {text('currency', t('currency'))}
    </>
  );
}
