import { renderEmail } from '../email/email-templates';
import { EmailMessage, EmailSender, SendOptions } from '../../ports/email-sender.port';
import { dropJsonFile } from './json-drop-folder';

/** What one file holds: the contract's `{to, template, subject, data, sentAt}`, plus the id and the rendered bodies. */
export interface EmailFile {
  id: string;
  to: string;
  template: EmailMessage['template'];
  subject: string;
  data: EmailMessage['data'];
  sentAt: string;
  html: string;
  text: string;
}

/**
 * Writes one JSON file per e-mail sent (`EmailFile`), rendered by the same templates SES uses.
 *
 * Delivery is at least once: the same message (same `id`) may be sent twice, and then leaves two
 * files (see `dropJsonFile`), so a repeat stays visible.
 */
export class FileEmailSender extends EmailSender {
  constructor(private readonly dir: string) {
    super();
  }

  async send(message: EmailMessage, options: SendOptions = {}): Promise<void> {
    const { subject, html, text } = renderEmail(message.template, message.data);
    const body: EmailFile = {
      id: message.id,
      to: message.to,
      template: message.template,
      subject,
      data: message.data,
      sentAt: new Date().toISOString(),
      html,
      text,
    };
    await dropJsonFile(this.dir, message.id, body, options.signal);
  }
}
