import { useEffect, useState } from 'react';
import { api, type OrderDto, type Schemas } from '../api/client';
import { formatMoney, problemMessage, translate as t } from '../i18n';

export default function Confirmation({ id }: { id: string }) {
  const [order, setOrder] = useState<OrderDto | null>(null);
  const [tickets, setTickets] = useState<Schemas['TicketWithQrDto'][]>([]);
  const [message, setMessage] = useState('');
  const [error, setError] = useState('');

  const load = async () => {
    const { data, error: problem } = await api.GET('/v1/orders/{id}', { params: { path: { id } } });
    if (!data) return setError(problemMessage(problem?.code));
    setOrder(data);
    if (data.status === 'paid') {
      const res = await api.GET('/v1/orders/{id}/tickets', { params: { path: { id } } });
      if (res.data) setTickets(res.data);
    } else setTickets([]);
  };
  useEffect(() => void load(), [id]);

  const refund = async () => {
    const { data, error: problem } = await api.POST('/v1/orders/{id}/refund', { params: { path: { id } } });
    if (data) {
      setMessage(t('refunded'));
      await load();
    } else setError(problemMessage(problem?.code));
  };

  if (!order) return error ? <p role="alert" className="error">{error}</p> : <p>{t('loading')}</p>;
  return (
    <section aria-labelledby="confirmation-title">
      <h1 id="confirmation-title">{t('confirmation')}</h1>
      <p>{t('orderLabel', { id: order.id.slice(0, 8) })} · {t('status')}: {t(order.status)} · {formatMoney(order.total, order.currency)}</p>
      <ul className="tickets" aria-label={t('tickets')}>
        {tickets.map((ticket) => (
          <li key={ticket.id} className="card">
            <figure>
              <div className="qr" role="img" aria-label={t('ticketCode', { code: ticket.code.slice(0, 8) })} dangerouslySetInnerHTML={{ __html: ticket.qrSvg }} />
              <figcaption><code>{ticket.code}</code></figcaption>
            </figure>
          </li>
        ))}
      </ul>
      {order.status === 'paid' && (
        <p>
          <button type="button" onClick={() => window.print()}>{t('print')}</button>{' '}
          <button type="button" className="secondary" onClick={() => void refund()}>{t('refund')}</button>
        </p>
      )}
      {message && <p role="status" className="ok">{message}</p>}
      {error && <p role="alert" className="error">{error}</p>}
    </section>
  );
}
