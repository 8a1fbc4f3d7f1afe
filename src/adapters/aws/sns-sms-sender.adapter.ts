import type { SendOptions } from '../../ports/email-sender.port';
import { PublishCommand, PublishCommandInput, SNSClient, SNSClientConfig } from '@aws-sdk/client-sns';
import type { OnApplicationShutdown } from '@nestjs/common';
import { UndeliverableError } from '../../ports/email-sender.port';
import { SmsMessage, SmsSender } from '../../ports/sms-sender.port';

export interface SnsSmsSenderOptions {
  region: string;
  /** An SNS-compatible server instead of AWS (LocalStack). */
  endpoint?: string;
  /**
   * Alphanumeric sender ID shown instead of a number where the destination country supports it
   * (1–11 letters and digits, at least one letter). Some countries require it to be registered first.
   */
  senderId?: string;
  /** How long one Publish may take, retries included, before it is abandoned; 10 s by default. */
  requestTimeoutMs?: number;
  /** A ready client (tests); when given, region, endpoint and clientConfig are not used and the caller owns it. */
  client?: SNSClient;
  /** Further SDK settings (credentials, retries…); on AWS the default credential chain serves. */
  clientConfig?: SNSClientConfig;
}

/** E.164: a plus, a country code that does not start with 0, at most 15 digits in all. */
const E164 = /^\+[1-9]\d{1,14}$/;
/** SNS splits long texts into several SMS but refuses a single Publish above 1,600 characters. */
export const MAX_SMS_TEXT_LENGTH = 1600;
const SENDER_ID = /^(?=.*[A-Za-z])[A-Za-z0-9]{1,11}$/;

/**
 * A message SNS would refuse whatever the moment: sending it again can never succeed. An
 * UndeliverableError, which is what the outbox relay dead-letters at once.
 */
export class InvalidSmsError extends UndeliverableError {
  override readonly name = 'InvalidSmsError';
}

/**
 * SNS errors about the message itself (a malformed or unroutable number, a parameter SNS will never
 * accept, a number that opted out). `send()` turns these into UndeliverableError, which the outbox
 * relay dead-letters at once; everything else
 * (throttling, SNS or network faults, timeouts, IAM or sandbox misconfiguration that an operator can
 * fix) is worth retrying later.
 *
 * The SDK names modelled errors after their shapes (`InvalidParameterException`); the wire codes
 * (`InvalidParameter`, `ParameterValueInvalid`) are matched too, for errors the SDK did not model.
 */
const PERMANENT_SNS_ERRORS = new Set([
  'InvalidParameterException',
  'InvalidParameter',
  'InvalidParameterValueException',
  'ParameterValueInvalid',
  'ValidationException',
  'OptedOutException',
  'OptedOut',
]);

export function isPermanentSmsError(error: unknown): boolean {
  if (error instanceof UndeliverableError) return true;
  if (typeof error !== 'object' || error === null) return false;
  const { name, Code } = error as { name?: unknown; Code?: unknown };
  return (typeof name === 'string' && PERMANENT_SNS_ERRORS.has(name)) || (typeof Code === 'string' && PERMANENT_SNS_ERRORS.has(Code));
}

/** Transactional SMS (tickets, order updates) published straight to a phone number through SNS. */
export class SnsSmsSender extends SmsSender implements OnApplicationShutdown {
  private readonly client: SNSClient;
  private readonly ownsClient: boolean;
  private readonly senderId?: string;
  private readonly requestTimeoutMs: number;

  constructor(options: SnsSmsSenderOptions) {
    super();
    if (options.senderId !== undefined && !SENDER_ID.test(options.senderId)) {
      throw new Error(`SnsSmsSender: sender ID "${options.senderId}" must be 1–11 letters and digits with at least one letter`);
    }
    this.senderId = options.senderId;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.ownsClient = !options.client;
    this.client =
      options.client ??
      new SNSClient({
        ...options.clientConfig,
        region: options.region,
        ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      });
  }

  async send(message: SmsMessage, options: SendOptions = {}): Promise<void> {
    // Refused here rather than by SNS: no API call, and a clear reason in the dead-letter row.
    if (!E164.test(message.to)) {
      throw new InvalidSmsError(`SMS ${message.id}: "${message.to}" is not an E.164 phone number (+ and 2–15 digits)`);
    }
    if (message.text.length === 0 || message.text.length > MAX_SMS_TEXT_LENGTH) {
      throw new InvalidSmsError(
        `SMS ${message.id}: text must be 1–${MAX_SMS_TEXT_LENGTH} characters, got ${message.text.length}`,
      );
    }
    const attributes: NonNullable<PublishCommandInput['MessageAttributes']> = {
      // Transactional: delivery optimised for reliability, not cost; what a ticket or an order update needs.
      'AWS.SNS.SMS.SMSType': { DataType: 'String', StringValue: 'Transactional' },
    };
    if (this.senderId) attributes['AWS.SNS.SMS.SenderID'] = { DataType: 'String', StringValue: this.senderId };
    try {
      await this.client.send(
        new PublishCommand({ PhoneNumber: message.to, Message: message.text, MessageAttributes: attributes }),
        // A hung call would hold the outbox relay; abandoned (by our timeout or the caller's signal),
        // it is cancelled, and the message is retried on a later pass.
        {
          abortSignal: options.signal
            ? AbortSignal.any([options.signal, AbortSignal.timeout(this.requestTimeoutMs)])
            : AbortSignal.timeout(this.requestTimeoutMs),
        },
      );
    } catch (error) {
      if (!isPermanentSmsError(error)) throw error;
      const { name, message: reason } = error as Error;
      throw new UndeliverableError(`SMS ${message.id}: SNS refused it (${name}: ${reason})`, { cause: error });
    }
  }

  /** Closes the SDK's keep-alive sockets so shutdown is not held up by them. */
  onApplicationShutdown(): void {
    if (this.ownsClient) this.client.destroy();
  }
}
