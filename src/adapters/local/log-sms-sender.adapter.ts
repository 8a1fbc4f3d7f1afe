import { Logger } from '@nestjs/common';
import { SmsMessage, SmsSender } from '../../ports/sms-sender.port';

export class LogSmsSender extends SmsSender {
  private readonly logger = new Logger('Sms');

  async send(message: SmsMessage): Promise<void> {
    this.logger.log({ sms: { id: message.id, to: message.to, length: message.text.length } }, 'sms (log driver)');
  }
}
