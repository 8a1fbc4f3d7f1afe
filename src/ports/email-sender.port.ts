export type EmailTemplate = 'ticket-confirmation' | 'event-published' | 'refund-completed';

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
