import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EmailMessage, EmailSender } from '../../ports/email-sender.port';

const SUBJECTS: Record<EmailMessage['template'], string> = {
  'ticket-confirmation': 'Your tickets',
  'event-published': 'Your event is live',
  'refund-completed': 'Your refund is complete',
};

/** Writes one JSON file per e-mail, `{to, template, subject, data, sentAt}`, named by the message id. */
export class FileEmailSender extends EmailSender {
  constructor(private readonly dir: string) {
    super();
  }

  async send(message: EmailMessage): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const body = {
      id: message.id,
      to: message.to,
      template: message.template,
      subject: SUBJECTS[message.template],
      data: message.data,
      sentAt: new Date().toISOString(),
    };
    await writeFile(join(this.dir, `${message.id}.json`), JSON.stringify(body, null, 2));
  }
}
