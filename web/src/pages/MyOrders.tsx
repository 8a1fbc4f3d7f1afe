import { useEffect, useState } from 'react';
import { Link } from 'wouter';
import { api, type OrderDto } from '../api/client';
import { formatDate, formatMoney, problemMessage, translate as t } from '../i18n';
import PhoneVerification from './PhoneVerification';

export default function MyOrders() {
  const [orders, setOrders] = useState<OrderDto[] | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    void api.GET('/v1/orders', { params: { query: { limit: 50 } } }).then(({ data, error: problem }) => {
      if (data) setOrders(data.items);
      else setError(problemMessage(problem?.code));
    });
  }, []);
  if (error) return <p role="alert" className="error">{error}</p>;
  if (!orders) return <p>{t('loading')}</p>;
  return (
    <section aria-labelledby="orders-title">
      <h1 id="orders-title">{t('myOrders')}</h1>
      <PhoneVerification />
      {orders.length === 0 ? <p>{t('noOrders')}</p> : (
        <ul className="cards">
          {orders.map((order) => (
            <li key={order.id} className="card">
              <p>{t('orderLabel', { id: order.id.slice(0, 8) })} · {t(order.status)}</p>
              <p>{formatMoney(order.total, order.currency)} · {formatDate(order.createdAt)}</p>
              <Link href={order.status === 'pending' ? `/checkout/${order.id}` : `/orders/${order.id}`}>{t('view')}</Link>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
