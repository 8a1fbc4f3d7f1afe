import { useEffect, useState, type FormEvent } from 'react';
import { api, type EventDto, type Schemas } from '../api/client';
import { formatDate, formatMoney, problemMessage, translate as t } from '../i18n';

type Timeline = Schemas['SalesTimelineDto'];
type EventOrder = Schemas['OrderWithBuyerPageDto']['items'][number];

/** Totals, per ticket type, and sales over time; refreshed every 5 seconds. */
export function Dashboard({ event }: { event: EventDto }) {
  const [sales, setSales] = useState<Schemas['SalesReportDto'] | null>(null);
  const [timeline, setTimeline] = useState<Timeline | null>(null);
  useEffect(() => {
    const load = async () => {
      const { data } = await api.GET('/v1/events/{id}/sales', { params: { path: { id: event.id } } });
      if (data) setSales(data);
      const res = await api.GET('/v1/events/{id}/sales/timeline', { params: { path: { id: event.id }, query: { interval: 'hour' } } });
      if (res.data) setTimeline(res.data);
    };
    void load();
    const timer = window.setInterval(() => void load(), 5000);
    return () => window.clearInterval(timer);
  }, [event.id]);
  if (!sales) return null;
  return (
    <section aria-labelledby="sales-title" className="card">
      <h2 id="sales-title">{t('sales')}</h2>
      <p>
        {t('sold')}: <strong data-testid="tickets-sold">{sales.ticketsSold}</strong> · {t('revenue')}: {formatMoney(sales.grossRevenue, sales.currency)} · {t('refundedAmount')}: {formatMoney(sales.refundedAmount, sales.currency)}
      </p>
      <table>
        <thead><tr><th>{t('name')}</th><th>{t('sold')}</th><th>{t('capacity')}</th><th>{t('revenue')}</th></tr></thead>
        <tbody>
          {sales.byTicketType.map((row) => (
            <tr key={row.ticketTypeId}><td>{row.name}</td><td>{row.sold}</td><td>{row.capacity}</td><td>{formatMoney(row.revenue, sales.currency)}</td></tr>
          ))}
        </tbody>
      </table>
      {timeline && timeline.points.length > 0 && <SalesChart points={timeline.points} />}
    </section>
  );
}

/** A bar per interval, tickets sold; plain SVG (no chart library on the organiser's path). */
function SalesChart({ points }: { points: Timeline['points'] }) {
  const max = Math.max(1, ...points.map((p) => p.ticketsSold));
  const width = 600;
  const bar = width / points.length;
  return (
    <figure>
      <svg viewBox={`0 0 ${width} 160`} role="img" aria-label={t('salesOverTime')} style={{ width: '100%', maxHeight: 200 }}>
        {points.map((p, i) => {
          const h = (p.ticketsSold / max) * 140;
          return (
            <rect key={p.at} x={i * bar + 2} y={150 - h} width={Math.max(1, bar - 4)} height={h} fill="#0a58ca">
              <title>{`${formatDate(p.at)}: ${p.ticketsSold}`}</title>
            </rect>
          );
        })}
      </svg>
      <figcaption>{t('salesOverTime')}</figcaption>
    </figure>
  );
}

export function EventOrders({ event }: { event: EventDto }) {
  const [q, setQ] = useState('');
  const [orders, setOrders] = useState<EventOrder[]>([]);
  const [error, setError] = useState('');
  const search = async (e?: FormEvent) => {
    e?.preventDefault();
    const { data, error: problem } = await api.GET('/v1/events/{id}/orders', { params: { path: { id: event.id }, query: { limit: 50, ...(q ? { q } : {}) } } });
    if (data) setOrders(data.items);
    setError(problem ? problemMessage(problem.code) : '');
  };
  useEffect(() => void search(), [event.id]);
  const refund = async (id: string) => {
    const { error: problem } = await api.POST('/v1/orders/{id}/refund', { params: { path: { id } } });
    setError(problem ? problemMessage(problem.code) : '');
    await search();
  };
  return (
    <section aria-labelledby="eo-title" className="card">
      <h2 id="eo-title">{t('orders')}</h2>
      <form role="search" onSubmit={(e) => void search(e)}>
        <label>{t('searchOrders')}<input type="search" value={q} onChange={(e) => setQ(e.target.value)} /></label>
      </form>
      <table>
        <tbody>
          {orders.map((order) => (
            <tr key={order.id}>
              <td>{order.id.slice(0, 8)}</td><td>{order.buyer.name} ({order.buyer.email})</td><td>{t(order.status)}</td>
              <td>{formatMoney(order.total, order.currency)}</td>
              <td>{order.status === 'paid' && <button type="button" onClick={() => void refund(order.id)}>{t('refund')}</button>}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {error && <p role="alert" className="error">{error}</p>}
    </section>
  );
}

export function Staff({ event }: { event: EventDto }) {
  const [staff, setStaff] = useState<Schemas['StaffMemberDto'][]>([]);
  const [email, setEmail] = useState('');
  const [error, setError] = useState('');
  const load = async () => {
    const { data } = await api.GET('/v1/events/{id}/staff', { params: { path: { id: event.id } } });
    if (data) setStaff(data);
  };
  useEffect(() => void load(), [event.id]);
  const add = async (e: FormEvent) => {
    e.preventDefault();
    const { error: problem } = await api.POST('/v1/events/{id}/staff', { params: { path: { id: event.id } }, body: { email } });
    setError(problem ? problemMessage(problem.code) : '');
    if (!problem) setEmail('');
    await load();
  };
  // A grant is withdrawn by e-mail, claimed or not (a mistyped address must not stay claimable).
  const remove = async (grantee: string) => {
    await api.DELETE('/v1/events/{id}/staff', { params: { path: { id: event.id }, query: { email: grantee } } });
    await load();
  };
  return (
    <section aria-labelledby="staff-title" className="card">
      <h2 id="staff-title">{t('staff')}</h2>
      <ul>
        {staff.map((member) => (
          <li key={member.email}>{member.email} <button type="button" className="secondary" onClick={() => void remove(member.email)}>✕ {member.email}</button></li>
        ))}
      </ul>
      <form onSubmit={(e) => void add(e)}>
        <label>{t('email')}<input type="email" value={email} onChange={(e) => setEmail(e.target.value)} /></label>
        <button type="submit">{t('addStaff')}</button>
      </form>
      {error && <p role="alert" className="error">{error}</p>}
    </section>
  );
}
