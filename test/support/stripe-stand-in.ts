import { randomBytes } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { parse as parseForm } from 'qs';
import Stripe from 'stripe';

/**
 * A local stand-in for the part of Stripe's REST API the Stripe adapter uses, started by the tests.
 * Nothing on npm or apt serves PaymentIntents statefully (stripe-mock is stateless and cannot
 * decline), so this one is written to Stripe's documented behaviour, and kept honest by
 * test/integration/stripe-stand-in.test.ts, which drives it with the official `stripe` client:
 *
 * - bodies are form-encoded with brackets (`metadata[orderId]=…`), answers are Stripe's JSON objects
 *   (`object`, ids with their prefixes, lower-case currencies, `client_secret`, `latest_charge`);
 * - `Idempotency-Key`: the same key with the same parameters replays the stored answer (status and
 *   body, `Idempotent-Replayed: true`), with other parameters → `400 idempotency_error`, while the
 *   first request with that key is still running → `409 idempotency_error`; keys are per API key
 *   and per endpoint, as Stripe scopes them;
 * - test PaymentMethods: `pm_card_visa` succeeds, `pm_card_chargeDeclined` → `402 card_error /
 *   card_declined` with the intent in `requires_payment_method`, `pm_card_authenticationRequired`
 *   → the intent in `requires_action` (`next_action.type = use_stripe_sdk`), finished by
 *   `completeAction` as Stripe.js would;
 * - events (`payment_intent.succeeded`, `payment_intent.payment_failed`, `payment_intent.canceled`,
 *   `charge.refunded`, `charge.dispute.created`) are recorded and, when a webhook URL is set,
 *   delivered signed with the package's own `webhooks.generateTestHeaderString`.
 *
 * Test controls (not Stripe's): fail the next requests with a 5xx, drop connections (Stripe
 * unreachable), hold webhook deliveries back, re-deliver or re-order them, refund or dispute a
 * charge "from the dashboard".
 */

type Json = Record<string, unknown>;

export interface StandInEvent {
  id: string;
  type: string;
  created: number;
  object: Json;
}

interface StoredAnswer {
  params: string;
  status: number;
  body: Json;
  done: boolean;
}

interface PaymentIntent extends Json {
  id: string;
  amount: number;
  currency: string;
  status: 'requires_payment_method' | 'requires_confirmation' | 'requires_action' | 'processing' | 'succeeded' | 'canceled';
  metadata: Record<string, string>;
  payment_method: string | null;
  latest_charge: string | null;
  client_secret: string;
}

interface Charge extends Json {
  id: string;
  amount: number;
  amount_refunded: number;
  currency: string;
  payment_intent: string;
  refunded: boolean;
}

const TEST_PAYMENT_METHODS = new Set(['pm_card_visa', 'pm_card_chargeDeclined', 'pm_card_authenticationRequired']);

const id = (prefix: string) => `${prefix}_${randomBytes(12).toString('base64url').replace(/[-_]/g, 'x')}`;
const now = () => Math.floor(Date.now() / 1000);

class StripeError extends Error {
  constructor(
    readonly status: number,
    readonly body: Json,
  ) {
    super(String(body.message));
  }
}

const invalidRequest = (message: string, param?: string, code?: string) =>
  new StripeError(400, { type: 'invalid_request_error', message, ...(param ? { param } : {}), ...(code ? { code } : {}) });
const missing = (kind: string, value: string) =>
  new StripeError(404, { type: 'invalid_request_error', code: 'resource_missing', param: 'id', message: `No such ${kind}: '${value}'` });

export interface StripeStandInOptions {
  /** The secret key requests must carry (`Authorization: Bearer …`). */
  apiKey?: string;
  /** Where events are POSTed, signed with `webhookSecret`; none: events are only recorded. */
  webhookUrl?: string;
  webhookSecret?: string;
}

export class StripeStandIn {
  readonly apiKey: string;
  readonly webhookSecret: string;
  webhookUrl?: string;
  /** The loopback port it listens on, once started. */
  port = 0;
  /** Deliver events as they happen (default) or keep them for `deliver`/`deliverAll`. */
  autoDeliver = true;

  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private readonly intents = new Map<string, PaymentIntent>();
  private readonly charges = new Map<string, Charge>();
  private readonly refunds = new Map<string, Json>();
  private readonly answers = new Map<string, StoredAnswer>();
  private failures: { status: number; remaining: number } | undefined;
  private unreachable = false;
  readonly events: StandInEvent[] = [];
  readonly undelivered: StandInEvent[] = [];
  /** Every API request as received: method, path, idempotency key, parsed parameters. */
  readonly requests: { method: string; path: string; idempotencyKey?: string; params: Json }[] = [];

  constructor(options: StripeStandInOptions = {}) {
    this.apiKey = options.apiKey ?? 'sk_test_standin';
    this.webhookSecret = options.webhookSecret ?? 'whsec_standin';
    this.webhookUrl = options.webhookUrl;
  }

  async start(): Promise<{ url: string; port: number }> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      if (this.unreachable) socket.destroy();
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return { url: `http://127.0.0.1:${this.port}`, port: this.port };
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  // ------------------------------------------------------------------ test controls

  /** The next `count` API requests answer `status` (Stripe's `api_error` shape) and change nothing. */
  failNext(count: number, status = 500): void {
    this.failures = { status, remaining: count };
  }

  /** Connections are cut as they arrive (Stripe unreachable), until `setUnreachable(false)`. */
  setUnreachable(value: boolean): void {
    this.unreachable = value;
    if (value) for (const socket of this.sockets) socket.destroy();
  }

  intent(intentId: string): PaymentIntent | undefined {
    return this.intents.get(intentId);
  }

  intentsFor(orderId: string): PaymentIntent[] {
    return [...this.intents.values()].filter((pi) => pi.metadata.orderId === orderId);
  }

  refundsOf(intentId: string): Json[] {
    return [...this.refunds.values()].filter((r) => r.payment_intent === intentId);
  }

  /** Stripe.js finishing 3-D Secure in the browser: the intent succeeds (or fails) and emits its event. */
  async completeAction(intentId: string, outcome: 'succeeded' | 'failed' = 'succeeded'): Promise<PaymentIntent> {
    const pi = this.intents.get(intentId);
    if (!pi || pi.status !== 'requires_action') throw new Error(`intent ${intentId} is not waiting for an action`);
    if (outcome === 'succeeded') await this.succeed(pi);
    else await this.fail(pi, 'authentication_required', 'The provided PaymentMethod has failed authentication.');
    return pi;
  }

  /** The browser confirming an intent with Stripe.js (the Payment Element) and a test PaymentMethod. */
  async confirmInBrowser(intentId: string, paymentMethod: string): Promise<PaymentIntent> {
    const pi = this.intents.get(intentId);
    if (!pi) throw new Error(`no intent ${intentId}`);
    try {
      await this.confirm(pi, paymentMethod);
    } catch (error) {
      if (!(error instanceof StripeError)) throw error;
    }
    return pi;
  }

  /** A refund made in Stripe's dashboard: `charge.refunded` follows. */
  async refundFromDashboard(intentId: string, amount?: number): Promise<Json> {
    const pi = this.intents.get(intentId);
    if (!pi?.latest_charge) throw new Error(`intent ${intentId} has no charge`);
    return this.createRefund({ payment_intent: intentId, ...(amount ? { amount: String(amount) } : {}) });
  }

  /** A cardholder disputing the charge: `charge.dispute.created` follows. */
  async dispute(intentId: string, reason = 'fraudulent'): Promise<Json> {
    const pi = this.intents.get(intentId);
    if (!pi?.latest_charge) throw new Error(`intent ${intentId} has no charge`);
    const dispute = {
      id: id('dp'),
      object: 'dispute',
      amount: pi.amount,
      currency: pi.currency,
      charge: pi.latest_charge,
      payment_intent: pi.id,
      reason,
      status: 'needs_response',
      created: now(),
      livemode: false,
      metadata: {},
    };
    await this.emit('charge.dispute.created', dispute);
    return dispute;
  }

  /** Delivers one recorded event (again, if it was delivered before); returns the webhook's status. */
  async deliver(event: StandInEvent, options: { signature?: string; timestamp?: number } = {}): Promise<number> {
    if (!this.webhookUrl) throw new Error('no webhook URL set');
    const payload = JSON.stringify(this.eventBody(event));
    const signature =
      options.signature ??
      Stripe.webhooks.generateTestHeaderString({ payload, secret: this.webhookSecret, timestamp: options.timestamp ?? now() });
    const response = await fetch(this.webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', 'stripe-signature': signature },
      body: payload,
    });
    await response.arrayBuffer();
    return response.status;
  }

  /** Delivers the held-back events, in the given order (default: as they happened). */
  async deliverAll(order: 'as-happened' | 'reversed' = 'as-happened'): Promise<number[]> {
    const batch = this.undelivered.splice(0);
    if (order === 'reversed') batch.reverse();
    const statuses: number[] = [];
    for (const event of batch) statuses.push(await this.deliver(event));
    return statuses;
  }

  eventBody(event: StandInEvent): Json {
    return {
      id: event.id,
      object: 'event',
      api_version: Stripe.API_VERSION,
      created: event.created,
      data: { object: event.object },
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type: event.type,
    };
  }

  // ------------------------------------------------------------------ HTTP

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const params = (req.method === 'GET' ? parseForm(url.search.slice(1)) : parseForm(raw)) as Json;
    const key = headerOf(req, 'idempotency-key');
    this.requests.push({ method: req.method ?? 'GET', path: url.pathname, idempotencyKey: key, params });
    const send = (status: number, body: Json, replayed = false) => {
      res.writeHead(status, {
        'content-type': 'application/json',
        'request-id': id('req'),
        ...(key ? { 'idempotency-key': key } : {}),
        ...(replayed ? { 'idempotent-replayed': 'true' } : {}),
      });
      res.end(JSON.stringify(body));
    };
    if (headerOf(req, 'authorization') !== `Bearer ${this.apiKey}`) {
      send(401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided: sk_test_****' } });
      return;
    }
    if (this.failures && this.failures.remaining > 0) {
      this.failures.remaining -= 1;
      send(this.failures.status, { error: { type: 'api_error', message: 'An unknown error occurred' } });
      return;
    }
    // Stripe scopes a key to the account and the endpoint: the same key on another path is another key.
    const scope = key && req.method === 'POST' ? `${url.pathname}\u0000${key}` : undefined;
    const fingerprint = JSON.stringify(params);
    if (scope) {
      const stored = this.answers.get(scope);
      if (stored && !stored.done) {
        send(409, {
          error: {
            type: 'idempotency_error',
            code: 'idempotency_key_in_use',
            message: 'There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): ' + key + '. Please try again later.',
          },
        });
        return;
      }
      if (stored && stored.params !== fingerprint) {
        send(400, {
          error: {
            type: 'idempotency_error',
            message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
          },
        });
        return;
      }
      if (stored) {
        send(stored.status, stored.body, true);
        return;
      }
      this.answers.set(scope, { params: fingerprint, status: 0, body: {}, done: false });
    }
    let status = 200;
    let body: Json;
    try {
      body = await this.route(req.method ?? 'GET', url.pathname, params);
    } catch (error) {
      if (!(error instanceof StripeError)) throw error;
      status = error.status;
      body = { error: error.body };
    }
    // As Stripe: an answer is kept under its key once the endpoint started executing (a card error
    // too); a request refused by validation is not kept, so it may be retried with the same key.
    if (scope) {
      if (status === 400 && (body.error as Json)?.type === 'invalid_request_error') this.answers.delete(scope);
      else this.answers.set(scope, { params: fingerprint, status, body, done: true });
    }
    send(status, body);
  }

  private async route(method: string, path: string, params: Json): Promise<Json> {
    const parts = path.split('/').filter(Boolean); // ['v1', 'payment_intents', id, action]
    if (parts[0] !== 'v1') throw invalidRequest(`Unrecognized request URL (${method}: ${path}).`);
    const [, resource, resourceId, action] = parts;
    if (resource === 'payment_intents') {
      if (method === 'POST' && !resourceId) return this.createIntent(params);
      if (method === 'GET' && resourceId === 'search') return this.searchIntents(stringParam(params, 'query') ?? '');
      const pi = resourceId ? this.intents.get(resourceId) : undefined;
      if (!pi) throw missing('payment_intent', resourceId ?? '');
      if (method === 'GET' && !action) return this.expand(pi, params);
      if (method === 'POST' && action === 'confirm') {
        await this.confirm(pi, stringParam(params, 'payment_method') ?? pi.payment_method ?? undefined);
        return this.expand(pi, params);
      }
      if (method === 'POST' && action === 'cancel') return this.cancel(pi);
      if (method === 'POST' && !action) return this.updateIntent(pi, params);
    }
    if (resource === 'refunds') {
      if (method === 'POST' && !resourceId) return this.createRefund(params);
      if (method === 'GET' && resourceId) {
        const refund = this.refunds.get(resourceId);
        if (!refund) throw missing('refund', resourceId);
        return refund;
      }
      if (method === 'GET' && !resourceId) {
        const intent = stringParam(params, 'payment_intent');
        const data = [...this.refunds.values()].filter((r) => !intent || r.payment_intent === intent);
        return { object: 'list', data, has_more: false, url: '/v1/refunds' };
      }
    }
    if (resource === 'charges' && method === 'GET' && resourceId) {
      const charge = this.charges.get(resourceId);
      if (!charge) throw missing('charge', resourceId);
      return charge;
    }
    throw invalidRequest(`Unrecognized request URL (${method}: ${path}).`);
  }

  private async createIntent(params: Json): Promise<Json> {
    const amount = Number(params.amount);
    const currency = stringParam(params, 'currency')?.toLowerCase();
    if (!Number.isInteger(amount) || amount < 1) throw invalidRequest('This value must be greater than or equal to 1.', 'amount');
    if (!currency || !/^[a-z]{3}$/.test(currency)) throw invalidRequest('Invalid currency', 'currency');
    checkAmountUnits(amount, currency);
    const intentId = id('pi');
    const pi: PaymentIntent = {
      id: intentId,
      object: 'payment_intent',
      amount,
      amount_received: 0,
      currency,
      status: 'requires_payment_method',
      client_secret: `${intentId}_secret_${randomBytes(12).toString('base64url').replace(/[-_]/g, 'x')}`,
      metadata: (params.metadata as Record<string, string>) ?? {},
      payment_method: null,
      payment_method_types: ['card'],
      latest_charge: null,
      last_payment_error: null,
      next_action: null,
      capture_method: 'automatic',
      confirmation_method: 'automatic',
      cancellation_reason: null,
      canceled_at: null,
      created: now(),
      livemode: false,
      description: stringParam(params, 'description') ?? null,
    };
    this.intents.set(intentId, pi);
    const paymentMethod = stringParam(params, 'payment_method');
    if (paymentMethod) pi.payment_method = paymentMethod;
    if (params.confirm === 'true') await this.confirm(pi, paymentMethod);
    return this.expand(pi, params);
  }

  /**
   * Search Query Language, the one form the adapter uses: `metadata['key']:'value'`. Stripe's search
   * is eventually consistent (new objects searchable within about a minute); this one is immediate,
   * which is the harder case for a caller that must not act twice.
   */
  private searchIntents(query: string): Json {
    const match = /^metadata\['([^']+)'\]:'([^']*)'$/.exec(query.trim());
    if (!match) throw invalidRequest(`Invalid search query: ${query}`, 'query');
    const [, key, value] = match;
    const data = [...this.intents.values()].filter((pi) => pi.metadata[key] === value);
    return { object: 'search_result', data, has_more: false, next_page: null, url: '/v1/payment_intents/search' };
  }

  private updateIntent(pi: PaymentIntent, params: Json): Json {
    if (pi.status === 'succeeded' || pi.status === 'canceled') {
      throw new StripeError(400, {
        type: 'invalid_request_error',
        code: 'payment_intent_unexpected_state',
        message: `This PaymentIntent's status is ${pi.status}; it cannot be updated.`,
        payment_intent: pi,
      });
    }
    if (params.metadata) pi.metadata = { ...pi.metadata, ...(params.metadata as Record<string, string>) };
    if (params.amount) pi.amount = Number(params.amount);
    return pi;
  }

  private async confirm(pi: PaymentIntent, paymentMethod: string | undefined): Promise<void> {
    if (!['requires_payment_method', 'requires_confirmation', 'requires_action'].includes(pi.status)) {
      throw new StripeError(400, {
        type: 'invalid_request_error',
        code: 'payment_intent_unexpected_state',
        message: `You cannot confirm this PaymentIntent because it has a status of ${pi.status}.`,
        payment_intent: pi,
      });
    }
    if (!paymentMethod) throw invalidRequest('You must provide a payment_method to confirm this PaymentIntent.', 'payment_method');
    if (!TEST_PAYMENT_METHODS.has(paymentMethod)) throw missing('payment_method', paymentMethod);
    pi.payment_method = paymentMethod;
    if (paymentMethod === 'pm_card_visa') {
      await this.succeed(pi);
      return;
    }
    if (paymentMethod === 'pm_card_authenticationRequired') {
      pi.status = 'requires_action';
      pi.next_action = { type: 'use_stripe_sdk', use_stripe_sdk: { type: 'three_d_secure_redirect', stripe_js: 'https://hooks.stripe.com/3d_secure_2/hosted' } };
      return;
    }
    const chargeId = id('ch');
    await this.fail(pi, 'card_declined', 'Your card was declined.', chargeId);
    throw new StripeError(402, {
      type: 'card_error',
      code: 'card_declined',
      decline_code: 'generic_decline',
      message: 'Your card was declined.',
      charge: chargeId,
      payment_intent: pi,
      payment_method: { id: paymentMethod, object: 'payment_method', type: 'card' },
      doc_url: 'https://stripe.com/docs/error-codes/card-declined',
    });
  }

  private async succeed(pi: PaymentIntent): Promise<void> {
    const charge: Charge = {
      id: id('ch'),
      object: 'charge',
      amount: pi.amount,
      amount_captured: pi.amount,
      amount_refunded: 0,
      currency: pi.currency,
      payment_intent: pi.id,
      payment_method: pi.payment_method,
      refunded: false,
      captured: true,
      paid: true,
      status: 'succeeded',
      metadata: pi.metadata,
      created: now(),
      livemode: false,
    };
    this.charges.set(charge.id, charge);
    Object.assign(pi, { status: 'succeeded', amount_received: pi.amount, latest_charge: charge.id, next_action: null, last_payment_error: null });
    await this.emit('payment_intent.succeeded', pi);
  }

  private async fail(pi: PaymentIntent, code: string, message: string, chargeId?: string): Promise<void> {
    Object.assign(pi, {
      status: 'requires_payment_method',
      next_action: null,
      latest_charge: chargeId ?? pi.latest_charge,
      last_payment_error: { type: 'card_error', code, message, ...(code === 'card_declined' ? { decline_code: 'generic_decline' } : {}) },
    });
    await this.emit('payment_intent.payment_failed', pi);
  }

  private async cancel(pi: PaymentIntent): Promise<Json> {
    if (pi.status === 'succeeded' || pi.status === 'canceled') {
      throw new StripeError(400, {
        type: 'invalid_request_error',
        code: 'payment_intent_unexpected_state',
        message: `You cannot cancel this PaymentIntent because it has a status of ${pi.status}.`,
        payment_intent: pi,
      });
    }
    Object.assign(pi, { status: 'canceled', cancellation_reason: 'requested_by_customer', canceled_at: now(), next_action: null });
    await this.emit('payment_intent.canceled', pi);
    return pi;
  }

  private async createRefund(params: Json): Promise<Json> {
    const intentId = stringParam(params, 'payment_intent');
    const chargeParam = stringParam(params, 'charge');
    const pi = intentId ? this.intents.get(intentId) : undefined;
    const charge = this.charges.get(chargeParam ?? pi?.latest_charge ?? '');
    if (!charge) {
      if (intentId && !pi) throw missing('payment_intent', intentId);
      throw invalidRequest('This PaymentIntent does not have a successful charge to refund.', 'payment_intent', 'charge_not_refundable');
    }
    const amount = params.amount === undefined ? charge.amount - charge.amount_refunded : Number(params.amount);
    if (charge.amount_refunded >= charge.amount) {
      throw invalidRequest(`Charge ${charge.id} has already been refunded.`, undefined, 'charge_already_refunded');
    }
    if (!Number.isInteger(amount) || amount < 1 || amount > charge.amount - charge.amount_refunded) {
      throw invalidRequest(`Refund amount (${amount}) is greater than unrefunded amount on charge.`, 'amount', 'amount_too_large');
    }
    checkAmountUnits(amount, charge.currency);
    const refund = {
      id: id('re'),
      object: 'refund',
      amount,
      charge: charge.id,
      currency: charge.currency,
      payment_intent: charge.payment_intent,
      metadata: (params.metadata as Record<string, string>) ?? {},
      reason: stringParam(params, 'reason') ?? null,
      status: 'succeeded',
      created: now(),
    };
    this.refunds.set(refund.id, refund);
    charge.amount_refunded += amount;
    charge.refunded = charge.amount_refunded >= charge.amount;
    await this.emit('charge.refunded', charge);
    return refund;
  }

  private expand(pi: PaymentIntent, params: Json): Json {
    const expand = (params.expand as string[] | undefined) ?? [];
    if (expand.includes('latest_charge') && pi.latest_charge) return { ...pi, latest_charge: this.charges.get(pi.latest_charge) };
    return pi;
  }

  private async emit(type: string, object: Json): Promise<void> {
    // A snapshot, as Stripe's event carries the object as it was when the event happened.
    const event: StandInEvent = { id: id('evt'), type, created: now(), object: structuredClone(object) };
    this.events.push(event);
    if (!this.webhookUrl || !this.autoDeliver) {
      this.undelivered.push(event);
      return;
    }
    // As Stripe: delivered asynchronously, after the API call that caused it has answered.
    setImmediate(() => void this.deliver(event).catch(() => this.undelivered.push(event)));
  }
}

/**
 * Stripe's rules on the units of an amount, for PaymentIntents and Refunds alike: three-decimal
 * currencies in multiples of 10 (docs.stripe.com/currencies, "Three-decimal currencies"); ISK, two
 * decimals in the API but whole krónur only since 2023, in multiples of 100 (Stripe's notice
 * "Deprecation of fractional ISK charges and refunds", whose error code this is).
 */
function checkAmountUnits(amount: number, currency: string): void {
  if (['bhd', 'jod', 'kwd', 'omr', 'tnd'].includes(currency) && amount % 10 !== 0) {
    throw invalidRequest('Amounts in three-decimal currencies must be multiples of 10.', 'amount', 'amount_invalid');
  }
  if (currency === 'isk' && amount % 100 !== 0) {
    throw invalidRequest(
      'Invalid amount. Currency ISK has become effectively zero-decimal and charged amounts must be evenly divisible by 100. See https://stripe.com/docs/currencies#special-cases for more information.',
      'amount',
      'invalid_charge_amount_no_decimal_compatible',
    );
  }
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function stringParam(params: Json, name: string): string | undefined {
  const value = params[name];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}
