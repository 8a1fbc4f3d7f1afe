import { useEffect, useRef, useState } from 'react';
import { useLocation } from 'wouter';
import type { Stripe, StripeElements } from '@stripe/stripe-js';
import { api } from '../api/client';
import { problemMessage, translate as t } from '../i18n';

/**
 * Stripe's Payment Element, loaded only when the order's payment intent is at Stripe. Stripe.js
 * confirms in the browser; the webhook settles the order, so we poll the order until it is paid.
 */
export default function StripePayment({ clientSecret, publishableKey, orderId }: { clientSecret: string; publishableKey: string; orderId: string }) {
  const mount = useRef<HTMLDivElement>(null);
  const [stripe, setStripe] = useState<Stripe | null>(null);
  const [elements, setElements] = useState<StripeElements | null>(null);
  const [error, setError] = useState('');
  const [, navigate] = useLocation();

  useEffect(() => {
    let live = true;
    void import('@stripe/stripe-js').then(async ({ loadStripe }) => {
      const loaded = await loadStripe(publishableKey);
      if (!live || !loaded || !mount.current) return;
      const els = loaded.elements({ clientSecret });
      els.create('payment').mount(mount.current);
      setStripe(loaded);
      setElements(els);
    }).catch(() => setError(problemMessage(undefined)));
    return () => {
      live = false;
    };
  }, [clientSecret, publishableKey]);

  const confirm = async () => {
    if (!stripe || !elements) return;
    const result = await stripe.confirmPayment({ elements, redirect: 'if_required' });
    if (result.error) return setError(result.error.message ?? problemMessage('PAYMENT_DECLINED'));
    for (let i = 0; i < 30; i++) {
      const { data } = await api.GET('/v1/orders/{id}', { params: { path: { id: orderId } } });
      if (data?.status === 'paid') return navigate(`/orders/${orderId}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  };

  return (
    <form onSubmit={(e) => { e.preventDefault(); void confirm(); }}>
      <div ref={mount} />
      <button type="submit" disabled={!stripe}>{t('pay', { amount: '' })}</button>
      {error && <p role="alert" className="error">{error}</p>}
    </form>
  );
}
