import { Logger } from '@nestjs/common';
import { EmailMessage, EmailSender } from '../../ports/email-sender.port';

/** Development driver: the e-mail goes to the log, nowhere else. */
export class LogEmailSender extends EmailSender {
  private readonly logger = new Logger('Email');

  async send(message: EmailMessage): Promise<void> {
    this.logger.log({ email: { id: message.id, to: message.to, template: message.template } }, 'e-mail (log driver)');
  }
}
