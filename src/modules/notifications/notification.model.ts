/**
 * What each notification carries. The outbox stores these payloads as written in the transaction
 * that caused them; the relay adds what is costly to compute (QR images) just before sending.
 * E-mail templates (SES and the local renderer) are written against exactly these fields, which
 * the EmailSender port states (each template's data is part of its contract).
 */

export type {
  EventPublishedData,
  EventSummary,
  RefundCompletedData,
  TemplateData,
  TicketConfirmationData,
  TicketLine,
} from '../../ports/email-sender.port';

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
