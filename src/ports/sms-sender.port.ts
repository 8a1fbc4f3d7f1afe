export interface SmsMessage {
  id: string;
  /** E.164 phone number. */
  to: string;
  text: string;
}

export abstract class SmsSender {
  abstract send(message: SmsMessage): Promise<void>;
}
