import { SendOptions } from '../../ports/email-sender.port';
import { SmsMessage, SmsSender } from '../../ports/sms-sender.port';
import { dropJsonFile } from './json-drop-folder';

/** What one file holds: the message as the carrier would get it. */
export interface SmsFile extends SmsMessage {
  sentAt: string;
}

/** The local SMS stand-in that keeps what it sends: one JSON file per SMS (`SmsFile`), like FileEmailSender. */
export class FileSmsSender extends SmsSender {
  constructor(private readonly dir: string) {
    super();
  }

  async send(message: SmsMessage, options: SendOptions = {}): Promise<void> {
    const body: SmsFile = { id: message.id, to: message.to, text: message.text, sentAt: new Date().toISOString() };
    await dropJsonFile(this.dir, message.id, body, options.signal);
  }
}
