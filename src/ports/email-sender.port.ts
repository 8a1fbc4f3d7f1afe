export type EmailTemplate = 'ticket-confirmation' | 'event-published' | 'refund-completed';

/* What each template is rendered from: the notifications module writes it, every sender renders it. */

export interface EventSummary {
  id: string;
  title: string;
  venueName: string;
  venueCity: string;
  venueAddress: string;
  /** ISO 8601 instant (UTC). */
  startsAt: string;
  /** The start in the event's own time zone, ready to print: "Saturday 14 March 2026, 20:00 (Africa/Tunis)". */
  startsAtLocal: string;
  timezone: string;
}

export interface TicketLine {
  code: string;
  ticketTypeName: string;
  /** Added by the relay when sending: a PNG data URL of the QR code of `code`. */
  qrPng?: string;
}

export interface TicketConfirmationData {
  buyerName: string;
  orderId: string;
  /** Short, human-friendly order reference (first 8 characters of the id, upper case). */
  orderReference: string;
  event: EventSummary;
  /** Minor units and currency, and the same in the currency's own format: "45.000 TND". */
  amount: number;
  currency: string;
  amountFormatted: string;
  tickets: TicketLine[];
}

export interface EventPublishedData {
  organiserName: string;
  event: EventSummary;
  ticketTypes: { name: string; priceFormatted: string; capacity: number }[];
}

export interface RefundCompletedData {
  buyerName: string;
  orderId: string;
  orderReference: string;
  event: EventSummary;
  amount: number;
  currency: string;
  amountFormatted: string;
  /** Why: the buyer asked, the organiser refunded, or the event was cancelled. */
  reason: 'buyer' | 'organiser' | 'event-cancelled';
}

export interface TemplateData {
  'ticket-confirmation': TicketConfirmationData;
  'event-published': EventPublishedData;
  'refund-completed': RefundCompletedData;
}


export interface EmailMessage {
  /** Stable id of the message, so a repeated delivery can be recognised downstream. */
  id: string;
  to: string;
  template: EmailTemplate;
  data: Record<string, unknown>;
}

/** How a caller bounds a send: once `signal` aborts, the sender stops and rejects, delivering nothing more. */
export interface SendOptions {
  signal?: AbortSignal;
}

export abstract class EmailSender {
  abstract send(message: EmailMessage, options?: SendOptions): Promise<void>;
}

/**
 * Thrown by a sender (e-mail or SMS) when retrying cannot help: a rejected address, an opted-out
 * phone, a missing template. The outbox relay then marks the message dead at once.
 */
export class UndeliverableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UndeliverableError';
  }
}
