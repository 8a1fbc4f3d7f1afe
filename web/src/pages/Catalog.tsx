import { useEffect, useState, type FormEvent } from 'react';
import { Link } from 'wouter';
import { api, type EventDto } from '../api/client';
import { formatDate, problemMessage, translate as t } from '../i18n';

const CATEGORIES = ['concert', 'festival', 'theatre', 'sport', 'conference', 'other'] as const;
type Category = (typeof CATEGORIES)[number];

interface Filters {
  q: string;
  category: Category | '';
  city: string;
  from: string;
  to: string;
}

const EMPTY: Filters = { q: '', category: '', city: '', from: '', to: '' };

function isCategory(value: string): value is Category {
  return CATEGORIES.some((c) => c === value);
}

export function Catalog() {
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [cursors, setCursors] = useState<string[]>([]);
  const [page, setPage] = useState<{ items: EventDto[]; nextCursor: string | null } | null>(null);
  const [error, setError] = useState('');
  const cursor = cursors[cursors.length - 1];

  useEffect(() => {
    let live = true;
    void api
      .GET('/v1/events', {
        params: {
          query: {
            limit: 12,
            cursor,
            q: filters.q || undefined,
            category: filters.category || undefined,
            city: filters.city || undefined,
            from: filters.from ? new Date(filters.from).toISOString() : undefined,
            to: filters.to ? new Date(`${filters.to}T23:59:59`).toISOString() : undefined,
          },
        },
      })
      .then(({ data, error: problem }) => {
        if (!live) return;
        if (data) setPage(data);
        setError(problem ? problemMessage(problem.code) : '');
      });
    return () => {
      live = false;
    };
  }, [filters, cursor]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setCursors([]);
    setFilters(draft);
  };

  return (
    <section aria-labelledby="catalog-title">
      <h1 id="catalog-title">{t('catalog')}</h1>
      <form className="filters" role="search" onSubmit={submit}>
        <label>
          {t('search')}
          <input type="search" value={draft.q} onChange={(e) => setDraft({ ...draft, q: e.target.value })} />
        </label>
        <label>
          {t('category')}
          <select value={draft.category} onChange={(e) => setDraft({ ...draft, category: isCategory(e.target.value) ? e.target.value : '' })}>
            <option value="">{t('any')}</option>
            {CATEGORIES.map((c) => (
              <option key={c} value={c}>{t(c)}</option>
            ))}
          </select>
        </label>
        <label>
          {t('city')}
          <input value={draft.city} onChange={(e) => setDraft({ ...draft, city: e.target.value })} />
        </label>
        <label>
          {t('from')}
          <input type="date" value={draft.from} onChange={(e) => setDraft({ ...draft, from: e.target.value })} />
        </label>
        <label>
          {t('to')}
          <input type="date" value={draft.to} onChange={(e) => setDraft({ ...draft, to: e.target.value })} />
        </label>
        <button type="submit">{t('apply')}</button>
      </form>
      {error && <p role="alert" className="error">{error}</p>}
      {!page ? (
        <p>{t('loading')}</p>
      ) : page.items.length === 0 ? (
        <p>{t('noEvents')}</p>
      ) : (
        <ul className="cards">
          {page.items.map((event) => (
            <li key={event.id} className="card">
              {event.imageUrl && <img src={event.imageUrl} alt="" loading="lazy" />}
              <h2><Link href={`/events/${event.id}`}>{event.title}</Link></h2>
              <p>{event.venue.name}, {event.venue.city}</p>
              <p>{formatDate(event.startsAt, event.timezone)}</p>
            </li>
          ))}
        </ul>
      )}
      <nav aria-label="Pages" className="pager">
        {cursors.length > 0 && <button type="button" onClick={() => setCursors([])}>{t('previous')}</button>}
        {page?.nextCursor && (
          <button type="button" onClick={() => setCursors([...cursors, page.nextCursor ?? ''])}>{t('next')}</button>
        )}
      </nav>
    </section>
  );
}
