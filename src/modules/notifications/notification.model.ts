/**
 * What each notification carries. The outbox stores these payloads as written in the transaction
 * that caused them; the relay adds what is costly to compute (QR images) just before sending.
 * E-mail templates (SES and the local renderer) are written against exactly these fields.
 */

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

export const orderReference = (orderId: string) => orderId.replace(/-/g, '').slice(0, 8).toUpperCase();

/**
 * "Saturday 14 March 2026, 20:00 (Africa/Tunis)": the event's wall-clock time where it happens.
 * Assembled from parts, since ICU versions disagree on the punctuation of the full pattern.
 */
export function formatInZone(instant: Date, timeZone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', {
      timeZone,
      weekday: 'long',
      day: 'numeric',
      month: 'long',
      year: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    })
      .formatToParts(instant)
      .map((p) => [p.type, p.value]),
  );
  return `${parts.weekday} ${parts.day} ${parts.month} ${parts.year}, ${parts.hour}:${parts.minute} (${timeZone})`;
}
