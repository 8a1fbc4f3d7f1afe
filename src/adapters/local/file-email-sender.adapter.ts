import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderEmail } from '../email/email-templates';
import { EmailMessage, EmailSender, SendOptions } from '../../ports/email-sender.port';

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
 * files, `<id>-<ms>-<random>.json`, so a repeat stays visible instead of overwriting the first.
 * A file appears complete or not at all (written under a dot-name ending in `.tmp`, then renamed):
 * readers should list `*.json` only.
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
    await mkdir(this.dir, { recursive: true });
    const name = `${safeName(message.id)}-${Date.now()}-${randomBytes(4).toString('hex')}.json`;
    const temp = join(this.dir, `.${name}.tmp`);
    try {
      await writeFile(temp, JSON.stringify(body, null, 2), { flag: 'wx', signal: options.signal });
      // The rename is the delivery: an abandoned send never delivers.
      options.signal?.throwIfAborted();
      await rename(temp, join(this.dir, name));
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }
}

/** Message ids are UUIDs; anything else is kept readable but can never leave the folder. */
function safeName(id: string): string {
  return id.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 100);
}
