import { SendTemplatedEmailCommand, SESClient, SESClientConfig } from '@aws-sdk/client-ses';
import type { OnApplicationShutdown } from '@nestjs/common';
import { templateData } from '../email/email-templates';
import { EmailMessage, EmailSender, UndeliverableError, SendOptions } from '../../ports/email-sender.port';

export interface SesEmailSenderOptions {
  region: string;
  /** An SES-compatible server instead of AWS (LocalStack). */
  endpoint?: string;
  /** The verified sender, e.g. `Tickr <no-reply@tickr.example>`. */
  from: string;
  /** Every message is sent with it, so its event destinations see deliveries, bounces and rendering failures. */
  configurationSetName?: string;
  /** Further SDK settings (credentials, retries…); on AWS the default credential chain serves. */
  clientConfig?: SESClientConfig;
  /** A ready client (tests); `region`, `endpoint` and `clientConfig` are then ignored, and it is not destroyed here. */
  client?: SESClient;
}

/** SES's limit on `TemplateData` (characters); a bigger payload is refused, so is not worth a retry. */
export const MAX_TEMPLATE_DATA_LENGTH = 262_144;

/**
 * SES errors that retrying the same request cannot cure: the message itself is refused, or its
 * sender identity or MAIL FROM domain is not verified. Both the SDK's error names and SES's wire
 * codes are listed. Everything else is retried: throttling (`Throttling`, "Maximum sending rate
 * exceeded"), the daily quota (`LimitExceeded`), a paused account or configuration set (sending
 * resumes), a template or configuration set not published yet (a deploy that ran before
 * `ses:templates`: the retries succeed once it has), credentials, 5xx and network failures.
 */
const PERMANENT = new Set([
  'MessageRejected',
  'MailFromDomainNotVerifiedException',
  'MailFromDomainNotVerified',
  'InvalidParameterValue',
  'ValidationError',
]);

/** Whether SES refused for good (see `PERMANENT`); an `UndeliverableError` is permanent too. */
export function isPermanentEmailError(error: unknown): boolean {
  if (error instanceof UndeliverableError) return true;
  if (error === null || typeof error !== 'object') return false;
  const { name, Code } = error as { name?: unknown; Code?: unknown };
  return (typeof name === 'string' && PERMANENT.has(name)) || (typeof Code === 'string' && PERMANENT.has(Code));
}

/**
 * E-mail through SES stored templates (`npm run ses:templates` uploads them from `EMAIL_TEMPLATES`).
 * Each message is tagged `message_id=<id>`: the tag travels with SES's delivery, bounce and
 * rendering-failure events, so a repeated delivery of one outbox message is recognisable there.
 *
 * A refusal SES will repeat is thrown as `UndeliverableError` (the relay gives up at once); any
 * other failure is thrown as it came, and the relay retries.
 */
export class SesEmailSender extends EmailSender implements OnApplicationShutdown {
  private readonly client: SESClient;
  private readonly ownsClient: boolean;
  private readonly from: string;
  private readonly configurationSetName?: string;

  constructor(options: SesEmailSenderOptions) {
    super();
    this.from = options.from;
    this.configurationSetName = options.configurationSetName;
    this.ownsClient = !options.client;
    this.client =
      options.client ??
      new SESClient({
        ...options.clientConfig,
        region: options.region,
        ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      });
  }

  async send(message: EmailMessage, options: SendOptions = {}): Promise<void> {
    const data = JSON.stringify(templateData(message.template, message.data));
    if (data.length > MAX_TEMPLATE_DATA_LENGTH) {
      throw new UndeliverableError(
        `e-mail ${message.id} (${message.template}): template data is ${data.length} characters, SES accepts ${MAX_TEMPLATE_DATA_LENGTH}`,
      );
    }
    try {
      await this.client.send(
        new SendTemplatedEmailCommand({
          Source: this.from,
          Destination: { ToAddresses: [message.to] },
          Template: message.template,
          TemplateData: data,
          ...(this.configurationSetName ? { ConfigurationSetName: this.configurationSetName } : {}),
          Tags: [{ Name: 'message_id', Value: message.id }],
        }),
        // An abandoned call is cancelled, so a retry can never overlap it.
        { abortSignal: options.signal },
      );
    } catch (error) {
      if (!isPermanentEmailError(error) || error instanceof UndeliverableError) throw error;
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      throw new UndeliverableError(`SES refused e-mail ${message.id} (${message.template}): ${reason}`, { cause: error });
    }
  }

  /** Closes the SDK's keep-alive sockets so shutdown is not held up by them. */
  onApplicationShutdown(): void {
    if (this.ownsClient) this.client.destroy();
  }
}
