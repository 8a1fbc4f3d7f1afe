import type { SendOptions } from './email-sender.port';

export interface SmsMessage {
  id: string;
  /** E.164 phone number. */
  to: string;
  text: string;
}

export abstract class SmsSender {
  /** Honours `options.signal` as `EmailSender.send` does. */
  abstract send(message: SmsMessage, options?: SendOptions): Promise<void>;
}
