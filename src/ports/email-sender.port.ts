export type EmailTemplate = 'ticket-confirmation' | 'event-published' | 'refund-completed';

export interface EmailMessage {
  /** Stable id of the message, so a repeated delivery can be recognised downstream. */
  id: string;
  to: string;
  template: EmailTemplate;
  data: Record<string, unknown>;
}

export abstract class EmailSender {
  abstract send(message: EmailMessage): Promise<void>;
}
