import { Injectable } from '@nestjs/common';
import * as QRCode from 'qrcode';
import { EmailSender, UndeliverableError } from '../../ports/email-sender.port';
import { SmsSender } from '../../ports/sms-sender.port';
import { TicketConfirmationData } from './notification.model';
import { ClaimedMessage } from './outbox.repository';

/** Hands one claimed outbox message to its channel: SMS as stored, e-mail with its images made now. */
@Injectable()
export class OutboxDispatcher {
  constructor(
    private readonly email: EmailSender,
    private readonly sms: SmsSender,
  ) {}

  async send(message: ClaimedMessage, signal: AbortSignal): Promise<void> {
    if (message.channel === 'sms') {
      await this.sms.send({ id: message.id, to: message.recipient, text: String(message.payload.text) }, { signal });
      return;
    }
    if (message.template === 'phone-verification') throw new UndeliverableError('phone-verification is an SMS, never an e-mail');
    const data = await this.withImages(message);
    signal.throwIfAborted();
    await this.email.send({ id: message.id, to: message.recipient, template: message.template, data }, { signal });
  }

  /**
   * QR images are made at send time: they are large and derive entirely from the stored codes.
   * Each PNG costs milliseconds of synchronous CPU, so the relay yields to the event loop before
   * every one: a batch of confirmations must not stall the API requests this instance serves.
   */
  private async withImages(message: ClaimedMessage): Promise<Record<string, unknown>> {
    if (message.template !== 'ticket-confirmation') return message.payload;
    const data = message.payload as unknown as TicketConfirmationData;
    const tickets = [];
    for (const ticket of data.tickets) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      tickets.push({ ...ticket, qrPng: await QRCode.toDataURL(ticket.code, { errorCorrectionLevel: 'M', margin: 2, width: 200 }) });
    }
    return { ...data, tickets };
  }
}
