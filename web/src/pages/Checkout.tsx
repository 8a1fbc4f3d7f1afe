import { lazy, Suspense, useEffect, useState } from 'react';
import { useLocation } from 'wouter';
import { api, type OrderDto, type Schemas } from '../api/client';
import { formatMoney, problemMessage, translate as t } from '../i18n';

const StripePayment = lazy(() => import('./StripePayment'));

function remaining(expiresAt: string, now: number): number {
  return Math.max(0, Math.floor((Date.parse(expiresAt) - now) / 1000));
}

function clock(seconds: number): string {
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
}

export function Checkout({ id }: { id: string }) {
  const [order, setOrder] = useState<OrderDto | null>(null);
  const [intent, setIntent] = useState<Schemas['PaymentIntentDto'] | null>(null);
  const [now, setNow] = useState(Date.now());
  const [card, setCard] = useState('tok_visa');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const [, navigate] = useLocation();

  useEffect(() => {
    void api.GET('/v1/orders/{id}', { params: { path: { id } } }).then(({ data, error: problem }) => {
      if (data) setOrder(data);
      else setError(problemMessage(problem?.code));
    });
    void api.POST('/v1/orders/{id}/payment-intent', { params: { path: { id } } }).then(({ data }) => {
      if (data) setIntent(data);
    });
    const timer = window.setInterval(() => setNow(Date.now()), 1000);
    return () => window.clearInterval(timer);
  }, [id]);

  if (!order) return error ? <p role="alert" className="error">{error}</p> : <p>{t('loading')}</p>;
  if (order.status === 'paid') {
    navigate(`/orders/${order.id}`);
    return null;
  }
  const left = remaining(order.expiresAt, now);
  const expired = left === 0 || order.status === 'expired';

  const pay = async () => {
    setBusy(true);
    const { data, error: problem } = await api.POST('/v1/orders/{id}/pay', { params: { path: { id } }, body: { paymentToken: card } });
    setBusy(false);
    if (data) navigate(`/orders/${data.id}`);
    else setError(problemMessage(problem?.code));
  };
  const release = async () => {
    const { data } = await api.POST('/v1/orders/{id}/cancel', { params: { path: { id } } });
    if (data) navigate(`/events/${data.eventId}`);
  };

  return (
    <section aria-labelledby="checkout-title">
      <h1 id="checkout-title">{t('checkout')}</h1>
      <p>{t('total')}: <strong>{formatMoney(order.total, order.currency)}</strong></p>
      {expired ? (
        <p role="alert" className="error">{t('holdExpired')}</p>
      ) : (
        <p className="countdown" role="timer" aria-live="off">{t('holdFor', { time: clock(left) })}</p>
      )}
      {!expired && intent?.provider === 'stripe' && intent.clientSecret && intent.publishableKey ? (
        <Suspense fallback={<p>{t('loading')}</p>}>
          <StripePayment clientSecret={intent.clientSecret} publishableKey={intent.publishableKey} orderId={order.id} />
        </Suspense>
      ) : (
        !expired && (
          <form onSubmit={(e) => { e.preventDefault(); void pay(); }}>
            <label>
              {t('card')}
              <select value={card} onChange={(e) => setCard(e.target.value)}>
                <option value="tok_visa">{t('cardVisa')}</option>
                <option value="tok_chargeDeclined">{t('cardDeclined')}</option>
              </select>
            </label>
            <p>
              <button type="submit" disabled={busy}>{t('pay', { amount: formatMoney(order.total, order.currency) })}</button>{' '}
              <button type="button" className="secondary" onClick={() => void release()}>{t('cancelOrder')}</button>
            </p>
          </form>
        )
      )}
      {error && <p role="alert" className="error">{error}</p>}
    </section>
  );
}
