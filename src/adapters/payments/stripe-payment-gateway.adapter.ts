import { Logger } from '@nestjs/common';
import Stripe from 'stripe';
import {
  ChargeabilityProblem,
  ChargeRequest,
  ChargeResult,
  ChargeStatus,
  InvalidWebhookSignatureError,
  PaymentGateway,
  PreparedPayment,
  PrepareRequest,
  ProviderEvent,
  RefundRequest,
  RefundResult,
} from '../../ports/payment-gateway.port';
import { convertToStripe, fromStripeAmount, toStripeAmount } from './stripe-currencies';

export interface StripeGatewayOptions {
  keys: { secretKey: string; publishableKey: string; webhookSecret: string };
  /** Where the client sends its requests: Stripe's API, or a stand-in in tests. */
  api: { protocol: 'http' | 'https'; host: string; port: number };
  /** How old a webhook's signed timestamp may be (Stripe's default, 300 s). */
  webhookToleranceSeconds: number;
  /**
   * Per attempt. With `maxNetworkRetries` and the client's back-off (0.5 s, then up to 1 s), a call
   * gives up within 3 × 15 + 1.5 s, inside the payments reconciler's 60 s grace.
   */
  timeoutMs?: number;
  /** Safe to retry: every POST carries an idempotency key, so a retry replays instead of acting twice. */
  maxNetworkRetries?: number;
}

/** Stripe said something this adapter cannot map to an outcome: the caller treats the outcome as unknown. */
export class StripeUnexpectedAnswerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StripeUnexpectedAnswerError';
  }
}

type Key = 'charge' | 'prepare' | 'refund' | 'cancel';

/**
 * Idempotency keys are scoped by Stripe to the account and endpoint; a charge and a prepare share
 * the PaymentIntent endpoint, hence the operation in the key. One reference is one operation.
 */
const keyOf = (operation: Key, reference: string) => `tickr-${operation}-${reference}`;

/** Charge-side statuses in which a PaymentIntent is still open at Stripe. */
const OPEN: ReadonlySet<Stripe.PaymentIntent.Status> = new Set(['requires_action', 'processing', 'requires_confirmation', 'requires_capture']);

/**
 * The payment gateway on Stripe's PaymentIntents: `/pay` confirms on the server with the buyer's
 * PaymentMethod, `/payment-intent` prepares one for Stripe.js, and the webhook's events settle both.
 * Our reference (the payment id) is the intent's `metadata.paymentId` and the root of each request's
 * idempotency key. Amounts are converted between ISO 4217 minor units and Stripe's own
 * (stripe-currencies.ts) in one place.
 *
 * Errors: a card decline is an outcome (`declined`); anything that leaves the outcome unknown
 * (network, timeout, 5xx, rate limit, a key still in use) is thrown, and so is a refusal that
 * means this integration is wrong (authentication, permission, invalid request), logged as such.
 */
export class StripePaymentGateway extends PaymentGateway {
  readonly provider = 'stripe';
  private readonly logger = new Logger('StripePaymentGateway');
  private readonly stripe: Stripe;

  constructor(private readonly options: StripeGatewayOptions) {
    super();
    this.stripe = new Stripe(options.keys.secretKey, {
      protocol: options.api.protocol,
      host: options.api.host,
      port: options.api.port,
      timeout: options.timeoutMs ?? 15_000,
      maxNetworkRetries: options.maxNetworkRetries ?? 2,
      telemetry: false,
      appInfo: { name: 'tickr' },
    });
  }

  async charge(request: ChargeRequest): Promise<ChargeResult> {
    let intent: Stripe.PaymentIntent;
    try {
      intent = await this.stripe.paymentIntents.create(
        {
          amount: toStripeAmount(request.amount, request.currency),
          currency: request.currency.toLowerCase(),
          payment_method: request.paymentToken,
          confirm: true,
          // Confirmed here, where no redirect-based method could finish; 3-D Secure is not a redirect.
          automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
          metadata: { orderId: request.orderId, paymentId: request.reference },
        },
        { idempotencyKey: keyOf('charge', request.reference) },
      );
    } catch (error) {
      if (error instanceof Stripe.errors.StripeCardError) {
        return { status: 'declined', providerReference: error.payment_intent?.id ?? '', reason: error.decline_code || error.code || 'card_declined' };
      }
      throw this.failure(error, 'charge', request.reference);
    }
    switch (intent.status) {
      case 'succeeded':
        return { status: 'succeeded', providerReference: intent.id };
      case 'requires_action':
        return { status: 'action_required', providerReference: intent.id, clientSecret: intent.client_secret ?? '' };
      case 'requires_payment_method':
      case 'canceled':
        return { status: 'declined', providerReference: intent.id, reason: declineReason(intent) };
      default:
        // `processing`: the outcome comes later, by event or reconciliation.
        throw new StripeUnexpectedAnswerError(`PaymentIntent ${intent.id} is ${intent.status} after confirmation`);
    }
  }

  async refund(request: RefundRequest): Promise<RefundResult> {
    try {
      const amount = toStripeAmount(request.amount, request.currency);
      const refund = await this.stripe.refunds.create(
        { payment_intent: request.providerReference, amount, metadata: { refundReference: request.reference } },
        { idempotencyKey: keyOf('refund', request.reference) },
      );
      return this.refundResult(refund);
    } catch (error) {
      if (error instanceof Stripe.errors.StripeInvalidRequestError && error.code === 'charge_already_refunded') {
        return this.existingRefund(request).catch((lookup: unknown) => {
          throw this.failure(lookup, 'refund', request.reference);
        });
      }
      throw this.failure(error, 'refund', request.reference);
    }
  }

  async status(reference: string, providerReference?: string): Promise<ChargeStatus> {
    let intent: Stripe.PaymentIntent | undefined;
    try {
      intent = providerReference ? await this.retrieve(providerReference) : undefined;
      intent ??= await this.findByReference(reference);
    } catch (error) {
      throw this.failure(error, 'status', reference);
    }
    if (!intent) return { status: 'not_found' };
    if (intent.status === 'succeeded') return { status: 'succeeded', providerReference: intent.id };
    if (intent.status === 'canceled') return { status: 'declined', providerReference: intent.id, reason: 'canceled' };
    if (OPEN.has(intent.status) || !intent.last_payment_error) {
      // Open, or prepared and not yet confirmed by the browser.
      return { status: 'pending', providerReference: intent.id };
    }
    return { status: 'declined', providerReference: intent.id, reason: declineReason(intent) };
  }

  async prepare(request: PrepareRequest): Promise<PreparedPayment> {
    try {
      const intent = await this.stripe.paymentIntents.create(
        {
          amount: toStripeAmount(request.amount, request.currency),
          currency: request.currency.toLowerCase(),
          // The checkout page has no return page for a redirect-based method to come back to.
          automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
          metadata: { orderId: request.orderId, paymentId: request.reference },
        },
        { idempotencyKey: keyOf('prepare', request.reference) },
      );
      return { providerReference: intent.id, clientSecret: intent.client_secret, publishableKey: this.options.keys.publishableKey };
    } catch (error) {
      throw this.failure(error, 'prepare', request.reference);
    }
  }

  async cancel(providerReference: string): Promise<void> {
    try {
      await this.stripe.paymentIntents.cancel(providerReference, {}, { idempotencyKey: keyOf('cancel', providerReference) });
    } catch (error) {
      if (error instanceof Stripe.errors.StripeInvalidRequestError && error.code === 'payment_intent_unexpected_state') {
        // Settled either way already: a canceled intent stays so, a succeeded one is the event's to settle.
        const status = error.payment_intent?.status ?? (await this.retrieve(providerReference))?.status;
        if (status === 'canceled' || status === 'succeeded') return;
      }
      throw this.failure(error, 'cancel', providerReference);
    }
  }

  chargeability(amount: number, currency: string): ChargeabilityProblem | undefined {
    const conversion = convertToStripe(amount, currency);
    return conversion.ok ? undefined : conversion.problem;
  }

  parseWebhook(rawBody: Buffer, signature: string | undefined): ProviderEvent {
    if (!signature) throw new InvalidWebhookSignatureError('no Stripe-Signature header');
    let event: Stripe.Event;
    try {
      event = this.stripe.webhooks.constructEvent(rawBody, signature, this.options.keys.webhookSecret, this.options.webhookToleranceSeconds);
    } catch (error) {
      if (error instanceof Stripe.errors.StripeSignatureVerificationError) throw new InvalidWebhookSignatureError(error.message);
      throw error;
    }
    return translateEvent(event, this.logger);
  }

  private refundResult(refund: Stripe.Refund): RefundResult {
    // `pending` is accepted and on its way (some banks take days); `failed` and `canceled` never arrive.
    if (refund.status === 'failed' || refund.status === 'canceled') {
      throw new StripeUnexpectedAnswerError(`refund ${refund.id} is ${refund.status}: ${refund.failure_reason ?? 'no reason given'}`);
    }
    return { status: 'succeeded', providerReference: refund.id };
  }

  /**
   * The charge is refunded already: by this reference before (its key expired, or the answer was
   * lost), or in the dashboard. Either way the money is back, so the refund converges.
   */
  private async existingRefund(request: RefundRequest): Promise<RefundResult> {
    const refunds = await this.stripe.refunds.list({ payment_intent: request.providerReference, limit: 100 });
    const ours = refunds.data.find((r) => r.metadata?.refundReference === request.reference && r.status !== 'failed' && r.status !== 'canceled');
    if (ours) return { status: 'succeeded', providerReference: ours.id };
    const any = refunds.data.find((r) => r.status !== 'failed' && r.status !== 'canceled');
    if (!any) throw new StripeUnexpectedAnswerError(`Stripe says ${request.providerReference} is refunded, but lists no refund of it`);
    this.logger.warn(
      { paymentIntent: request.providerReference, refundReference: request.reference, refund: any.id },
      'refund asked for a charge already fully refunded elsewhere (the dashboard?): taking the existing refund',
    );
    return { status: 'succeeded', providerReference: any.id };
  }

  private async retrieve(intentId: string): Promise<Stripe.PaymentIntent | undefined> {
    try {
      return await this.stripe.paymentIntents.retrieve(intentId);
    } catch (error) {
      if (error instanceof Stripe.errors.StripeInvalidRequestError && error.code === 'resource_missing') return undefined;
      throw error;
    }
  }

  /**
   * Search is eventually consistent at Stripe (an intent is searchable within about a minute), which
   * is why the port asks only about references older than any request can take.
   */
  private async findByReference(reference: string): Promise<Stripe.PaymentIntent | undefined> {
    const escaped = reference.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
    const found = await this.stripe.paymentIntents.search({ query: `metadata['paymentId']:'${escaped}'`, limit: 10 });
    // One intent per reference (the idempotency key makes it so); should a stray second exist, a success wins.
    return found.data.find((pi) => pi.status === 'succeeded') ?? found.data[0];
  }

  /** What a failed call throws, after saying in the log whether it is an outage or a misconfiguration. */
  private failure(error: unknown, operation: string, reference: string): unknown {
    const context = { err: error, operation, reference, stripeRequestId: (error as Stripe.errors.StripeError)?.requestId };
    if (!(error instanceof Stripe.errors.StripeError)) {
      this.logger.error(context, 'Stripe request not made or its answer not understood');
    } else if (
      error instanceof Stripe.errors.StripeAuthenticationError ||
      error instanceof Stripe.errors.StripePermissionError ||
      error instanceof Stripe.errors.StripeInvalidRequestError ||
      (error instanceof Stripe.errors.StripeIdempotencyError && error.statusCode === 400)
    ) {
      this.logger.error(context, 'Stripe refused the request: the integration or its keys are misconfigured, not the buyer');
    } else {
      this.logger.warn(context, 'Stripe could not be reached or failed: the outcome is unknown until reconciled');
    }
    return error;
  }
}

function declineReason(intent: Stripe.PaymentIntent): string {
  if (intent.status === 'canceled') return 'canceled';
  const error = intent.last_payment_error;
  return error?.decline_code || error?.code || 'payment_failed';
}

/** The ids and references every translated event carries; `paymentId`/`orderId` only when Stripe carried them back. */
function base(event: Stripe.Event, providerReference: string, metadata: Stripe.Metadata | null | undefined) {
  return {
    eventId: event.id,
    providerReference,
    ...(metadata?.paymentId ? { paymentId: metadata.paymentId } : {}),
    ...(metadata?.orderId ? { orderId: metadata.orderId } : {}),
  };
}

/**
 * Stripe's event in our terms. An amount in a currency the app never charges in cannot be about
 * one of its payments (another integration on the same account): ignored, with a warning.
 */
function translateEvent(event: Stripe.Event, logger: Logger): ProviderEvent {
  const ignored: ProviderEvent = { eventId: event.id, providerReference: '', type: 'ignored', providerType: event.type };
  const amountOf = (stripeAmount: number, currency: string) => {
    const amount = fromStripeAmount(stripeAmount, currency);
    if (amount === undefined) logger.warn({ eventId: event.id, type: event.type, currency, stripeAmount }, 'Stripe event in a currency or amount this app never charges: ignored');
    return amount;
  };
  switch (event.type) {
    case 'payment_intent.succeeded': {
      const pi = event.data.object;
      const amount = amountOf(pi.amount_received || pi.amount, pi.currency);
      if (amount === undefined) return ignored;
      return { ...base(event, pi.id, pi.metadata), type: 'charge.succeeded', amount, currency: pi.currency.toUpperCase() };
    }
    case 'payment_intent.payment_failed': {
      const pi = event.data.object;
      return { ...base(event, pi.id, pi.metadata), type: 'charge.failed', reason: declineReason(pi) };
    }
    case 'payment_intent.canceled': {
      const pi = event.data.object;
      return { ...base(event, pi.id, pi.metadata), type: 'charge.canceled' };
    }
    case 'charge.refunded': {
      const charge = event.data.object;
      const intentId = idOf(charge.payment_intent);
      const amount = amountOf(charge.amount, charge.currency);
      const refundedAmount = amountOf(charge.amount_refunded, charge.currency);
      if (!intentId || amount === undefined || refundedAmount === undefined) return ignored;
      return { ...base(event, intentId, charge.metadata), type: 'charge.refunded', amount, refundedAmount, currency: charge.currency.toUpperCase() };
    }
    case 'charge.dispute.created': {
      const dispute = event.data.object;
      // Stripe sets `payment_intent` on every dispute of a PaymentIntent's charge, and the charge's
      // own `payment_intent` is null otherwise: with none here, the charge is not one of ours.
      const intentId = idOf(dispute.payment_intent) ?? (typeof dispute.charge === 'object' ? idOf(dispute.charge.payment_intent) : undefined);
      const amount = amountOf(dispute.amount, dispute.currency);
      if (!intentId || amount === undefined) return ignored;
      return {
        ...base(event, intentId, dispute.metadata),
        type: 'charge.disputed',
        disputeId: dispute.id,
        amount,
        currency: dispute.currency.toUpperCase(),
        reason: dispute.reason,
      };
    }
    default:
      return ignored;
  }
}

function idOf(value: string | { id: string } | null | undefined): string | undefined {
  if (!value) return undefined;
  return typeof value === 'string' ? value : value.id;
}
