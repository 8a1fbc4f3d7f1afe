import { randomUUID } from 'node:crypto';
import { createServer, IncomingMessage, Server } from 'node:http';
import {
  AlreadyExistsException,
  CreateTemplateCommand,
  GetTemplateCommand,
  MessageRejected,
  SendTemplatedEmailCommand,
  SESClient,
  SESServiceException,
  TemplateDoesNotExistException,
  UpdateTemplateCommand,
} from '@aws-sdk/client-ses';
import { mockClient } from 'aws-sdk-client-mock';
import startSesEmulator from 'aws-ses-v2-local';
import { isPermanentEmailError, SesEmailSender } from '../../src/adapters/aws/ses-email-sender.adapter';
import { publishEmailTemplates } from '../../src/cli/ses-templates';
import { EMAIL_TEMPLATES, renderEmail, templateData } from '../../src/adapters/email/email-templates';
import { RefundCompletedData, TicketConfirmationData } from '../../src/modules/notifications/notification.model';
import { EmailMessage, EmailTemplate, UndeliverableError } from '../../src/ports/email-sender.port';
import { freePort } from '../support/ports';

/*
 * What is tested against what:
 * - The exact SendTemplatedEmail request: aws-sdk-client-mock (the command input) and a small HTTP
 *   server in this file that answers in SES's v1 Query protocol (the form the SDK really puts on the
 *   wire, and SES's XML errors as the SDK really turns them into exceptions).
 * - The templates: aws-ses-v2-local, an SES emulator from npm, renders them under SES's rules (no
 *   HTML escaping, built-in helpers only), and must agree with `renderEmail`. The emulator implements
 *   templates only in the SES v2 API (CreateEmailTemplate, SendEmail with a template); it does not
 *   implement the v1 calls this code uses (SendTemplatedEmail, Get/Create/UpdateTemplate: it never
 *   answers them), so the adapter and the CLI cannot be run against it.
 * - The ses-templates command: aws-sdk-client-mock for its decisions, the Query-protocol server for
 *   SES's real "template does not exist" error.
 */

const REGION = 'eu-west-1';
const FROM = 'Tickr <no-reply@tickr.example>';
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

const event = {
  id: randomUUID(),
  title: 'Jazz à Carthage <live> & more',
  venueName: 'Théâtre Romain',
  venueCity: 'Carthage',
  venueAddress: 'Rue Hannibal',
  startsAt: '2026-03-14T19:00:00.000Z',
  startsAtLocal: 'Saturday, 14 March 2026 at 20:00 (Africa/Tunis)',
  timezone: 'Africa/Tunis',
};

function confirmation(): EmailMessage {
  const data: TicketConfirmationData = {
    buyerName: 'Amira "Mimi" Ben Salah',
    orderId: randomUUID(),
    orderReference: '3F2A9C4E',
    event,
    amount: 135_500,
    currency: 'TND',
    amountFormatted: '135.500 TND',
    tickets: [
      { code: 'q7Xk2mZpL0sV9aBcDeFgHiJk', ticketTypeName: 'VIP', qrPng: 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==' },
      { code: 'R3nT8wYu1oPq5LmNbVcXzAsD', ticketTypeName: 'Standard', qrPng: 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==' },
    ],
  };
  return { id: randomUUID(), to: 'amira@example.com', template: 'ticket-confirmation', data: { ...data } };
}

function refund(reason: RefundCompletedData['reason']): EmailMessage {
  const data: RefundCompletedData = {
    buyerName: 'Amira',
    orderId: randomUUID(),
    orderReference: '3F2A9C4E',
    event,
    amount: 12_000,
    currency: 'JPY',
    amountFormatted: '¥12,000',
    reason,
  };
  return { id: randomUUID(), to: 'amira@example.com', template: 'refund-completed', data: { ...data } };
}

const sesError = <T extends SESServiceException>(Type: new (o: { message: string; $metadata: object }) => T, message: string) =>
  new Type({ message, $metadata: {} });

describe('SesEmailSender: the request it sends (aws-sdk-client-mock)', () => {
  const client = new SESClient({ region: REGION, credentials });
  const ses = mockClient(client);

  beforeEach(() => ses.reset());
  afterAll(() => client.destroy());

  it('sends the stored template by name, to the one recipient, with the template data, configuration set and message id tag', async () => {
    ses.on(SendTemplatedEmailCommand).resolves({ MessageId: 'ses-1' });
    const message = confirmation();
    await new SesEmailSender({ region: REGION, from: FROM, configurationSetName: 'tickr-transactional', client }).send(message);

    const calls = ses.commandCalls(SendTemplatedEmailCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0].args[0].input;
    expect(input).toEqual({
      Source: FROM,
      Destination: { ToAddresses: ['amira@example.com'] },
      Template: 'ticket-confirmation',
      TemplateData: JSON.stringify(templateData('ticket-confirmation', message.data)),
      ConfigurationSetName: 'tickr-transactional',
      Tags: [{ Name: 'message_id', Value: message.id }],
    });
    const sent = JSON.parse(input.TemplateData!);
    expect(sent.orderReference).toBe('3F2A9C4E');
    expect(sent.html.event.title).toBe('Jazz à Carthage &lt;live&gt; &amp; more');
  });

  it('sends no configuration set when none is configured, and the derived booleans of a refund', async () => {
    ses.on(SendTemplatedEmailCommand).resolves({ MessageId: 'ses-2' });
    await new SesEmailSender({ region: REGION, from: FROM, client }).send(refund('organiser'));

    const input = ses.commandCalls(SendTemplatedEmailCommand)[0].args[0].input;
    expect(input).not.toHaveProperty('ConfigurationSetName');
    expect(JSON.parse(input.TemplateData!)).toMatchObject({ reason: 'organiser', reasonIsOrganiser: true, reasonIsBuyer: false, reasonIsEventCancelled: false });
  });

  it('turns a refusal SES would repeat into UndeliverableError, keeping the SES error as its cause', async () => {
    const rejected = sesError(MessageRejected, 'Email address is not verified.');
    ses.on(SendTemplatedEmailCommand).rejects(rejected);
    const sending = new SesEmailSender({ region: REGION, from: FROM, client }).send(refund('buyer'));

    await expect(sending).rejects.toBeInstanceOf(UndeliverableError);
    await expect(sending).rejects.toMatchObject({ cause: rejected, message: expect.stringContaining('MessageRejected: Email address is not verified.') });
  });

  it('lets any other failure through as it is, for the relay to retry', async () => {
    const throttled = new SESServiceException({ name: 'Throttling', $fault: 'client', message: 'Maximum sending rate exceeded.', $metadata: {} });
    ses.on(SendTemplatedEmailCommand).rejects(throttled);
    await expect(new SesEmailSender({ region: REGION, from: FROM, client }).send(refund('buyer'))).rejects.toBe(throttled);
  });

  it('refuses, without calling SES, template data bigger than SES accepts', async () => {
    const message = confirmation();
    const ticket = (message.data.tickets as object[])[0];
    message.data.tickets = Array.from({ length: 300 }, () => ({ ...ticket, qrPng: `data:image/png;base64,${'A'.repeat(1_000)}` }));

    await expect(new SesEmailSender({ region: REGION, from: FROM, client }).send(message)).rejects.toThrow(/SES accepts 262144/);
    expect(ses.commandCalls(SendTemplatedEmailCommand)).toHaveLength(0);
  });
});

describe('isPermanentEmailError', () => {
  it.each([
    ['MessageRejected', true],
    ['MailFromDomainNotVerifiedException', true],
    // A deploy that ran before `ses:templates`: retried until the operator publishes the templates.
    ['TemplateDoesNotExistException', false],
    ['ConfigurationSetDoesNotExistException', false],
    ['InvalidParameterValue', true],
    ['Throttling', false],
    ['LimitExceededException', false],
    ['AccountSendingPausedException', false],
    ['ConfigurationSetSendingPausedException', false],
    ['InternalFailure', false],
    ['ServiceUnavailable', false],
    ['ExpiredTokenException', false],
  ])('%s → %s', (name, permanent) => {
    expect(isPermanentEmailError(new SESServiceException({ name, $fault: 'client', message: name, $metadata: {} }))).toBe(permanent);
  });

  it('a network failure or a non-error is not permanent', () => {
    expect(isPermanentEmailError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe(false);
    expect(isPermanentEmailError('MessageRejected')).toBe(false);
    expect(isPermanentEmailError(undefined)).toBe(false);
  });
});

/** Just enough of SES's v1 Query API (form-encoded requests, XML answers) to see the wire. */
interface QueryCall {
  action: string;
  params: URLSearchParams;
}

const XMLNS = 'http://ses.amazonaws.com/doc/2010-12-01/';
const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function answer(action: string, result = ''): string {
  return `<${action}Response xmlns="${XMLNS}"><${action}Result>${result}</${action}Result><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`;
}

function failure(code: string, message: string): string {
  return `<ErrorResponse xmlns="${XMLNS}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${xml(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`;
}

type Reply = { status: number; body: string };

describe('against an SES Query-protocol server', () => {
  let server: Server;
  let endpoint: string;
  let calls: QueryCall[] = [];
  let reply: (call: QueryCall) => Reply;
  const opened: SesEmailSender[] = [];

  const sender = (options: { configurationSetName?: string } = {}) => {
    const adapter = new SesEmailSender({ region: REGION, endpoint, from: FROM, clientConfig: { credentials, maxAttempts: 1 }, ...options });
    opened.push(adapter);
    return adapter;
  };

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        const params = new URLSearchParams(body);
        const call = { action: params.get('Action') ?? '', params };
        calls.push(call);
        const { status, body: xmlBody } = reply(call);
        res.writeHead(status, { 'content-type': 'text/xml' }).end(xmlBody);
      });
    });
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${port}`;
  });

  beforeEach(() => {
    calls = [];
  });

  afterAll(async () => {
    for (const adapter of opened) adapter.onApplicationShutdown();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('puts Source, Destination, Template, TemplateData, ConfigurationSetName and the message_id tag on the wire, at the endpoint given', async () => {
    reply = () => ({ status: 200, body: answer('SendTemplatedEmail', '<MessageId>0102018f-abc</MessageId>') });
    const message = confirmation();
    await sender({ configurationSetName: 'tickr-transactional' }).send(message);

    expect(calls).toHaveLength(1);
    expect(Object.fromEntries(calls[0].params)).toEqual({
      Action: 'SendTemplatedEmail',
      Version: '2010-12-01',
      Source: FROM,
      'Destination.ToAddresses.member.1': 'amira@example.com',
      Template: 'ticket-confirmation',
      TemplateData: JSON.stringify(templateData('ticket-confirmation', message.data)),
      ConfigurationSetName: 'tickr-transactional',
      'Tags.member.1.Name': 'message_id',
      'Tags.member.1.Value': message.id,
    });
  });

  it.each([
    ['MessageRejected', 'MessageRejected', 'Email address is not verified. The following identities failed the check: amira@example.com'],
    ['MailFromDomainNotVerifiedException', 'MailFromDomainNotVerifiedException', 'The MAIL FROM domain is not verified.'],
    ['InvalidParameterValue', 'InvalidParameterValue', 'Missing final @domain'],
  ])('SES error %s arrives as %s and makes the message undeliverable', async (code, sdkName, text) => {
    reply = () => ({ status: 400, body: failure(code, text) });
    const sending = sender().send(refund('buyer'));

    await expect(sending).rejects.toBeInstanceOf(UndeliverableError);
    await expect(sending).rejects.toMatchObject({ cause: { name: sdkName } });
  });

  it.each([
    [400, 'Throttling', 'Maximum sending rate exceeded.', 'Throttling'],
    [400, 'Throttling', 'Daily message quota exceeded.', 'Throttling'],
    [400, 'AccountSendingPausedException', 'Email sending is disabled for this account.', 'AccountSendingPausedException'],
    [400, 'TemplateDoesNotExist', 'Template ticket-confirmation does not exist.', 'TemplateDoesNotExistException'],
    [400, 'ConfigurationSetDoesNotExist', 'Configuration set <tickr> does not exist.', 'ConfigurationSetDoesNotExistException'],
    [500, 'InternalFailure', 'An internal error occurred.', 'InternalFailure'],
  ])('HTTP %s %s is thrown as it is (as the SDK names it), to be retried', async (status, code, text, sdkName) => {
    reply = () => ({ status, body: failure(code, text) });
    const sending = sender().send(refund('buyer'));

    await expect(sending).rejects.not.toBeInstanceOf(UndeliverableError);
    await expect(sending).rejects.toMatchObject({ name: sdkName, message: text });
  });

  it('ses-templates creates a template SES answers TemplateDoesNotExist for, and updates one it holds', async () => {
    const stored = new Map<string, Record<string, string>>([
      ['event-published', { TemplateName: 'event-published', SubjectPart: 'old', HtmlPart: '<p>old</p>', TextPart: 'old' }],
    ]);
    const templateOf = (p: URLSearchParams) => ({
      TemplateName: p.get('Template.TemplateName')!,
      SubjectPart: p.get('Template.SubjectPart')!,
      HtmlPart: p.get('Template.HtmlPart')!,
      TextPart: p.get('Template.TextPart')!,
    });
    reply = ({ action, params }) => {
      if (action === 'GetTemplate') {
        const t = stored.get(params.get('TemplateName')!);
        if (!t) return { status: 400, body: failure('TemplateDoesNotExist', `Template ${params.get('TemplateName')} does not exist.`) };
        const parts = Object.entries(t).map(([k, v]) => `<${k}>${xml(v)}</${k}>`).join('');
        return { status: 200, body: answer('GetTemplate', `<Template>${parts}</Template>`) };
      }
      if (action === 'CreateTemplate' || action === 'UpdateTemplate') {
        const t = templateOf(params);
        stored.set(t.TemplateName, t);
        return { status: 200, body: answer(action) };
      }
      return { status: 400, body: failure('InvalidAction', action) };
    };
    const client = new SESClient({ region: REGION, endpoint, credentials, maxAttempts: 1 });
    try {
      const done = await publishEmailTemplates(client);

      expect(done).toEqual([
        { name: 'ticket-confirmation', action: 'created' },
        { name: 'event-published', action: 'updated' },
        { name: 'refund-completed', action: 'created' },
      ]);
      for (const [name, content] of Object.entries(EMAIL_TEMPLATES)) {
        expect(stored.get(name)).toEqual({ TemplateName: name, SubjectPart: content.subject, HtmlPart: content.html, TextPart: content.text });
      }
      // Read back through SES's XML, the templates compare equal: a second run changes nothing.
      calls = [];
      expect((await publishEmailTemplates(client)).map((d) => d.action)).toEqual(['unchanged', 'unchanged', 'unchanged']);
      expect(calls.map((c) => c.action)).toEqual(['GetTemplate', 'GetTemplate', 'GetTemplate']);
    } finally {
      client.destroy();
    }
  });
});

describe('the templates in an SES emulator (aws-ses-v2-local, SES v2 template API)', () => {
  let emulator: Server;
  let base: string;
  /** The emulator wants an AWS-style Authorization header and checks nothing else of it. */
  const headers = { 'content-type': 'application/json', authorization: 'AWS4-HMAC-SHA256 Credential=test/20260101/eu-west-1/ses/aws4_request' };

  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${base}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.text()) || '{}' };
  };

  beforeAll(async () => {
    const port = await freePort();
    emulator = await startSesEmulator({ host: '127.0.0.1', port });
    base = `http://127.0.0.1:${port}`;
    for (const [name, { subject, html, text }] of Object.entries(EMAIL_TEMPLATES)) {
      const created = await post('/v2/email/templates', { TemplateName: name, TemplateContent: { Subject: subject, Html: html, Text: text } });
      expect(created).toMatchObject({ status: 200 });
    }
  });

  afterAll(async () => {
    emulator.closeAllConnections();
    await new Promise((resolve) => emulator.close(resolve));
  });

  async function sendThroughEmulator(message: EmailMessage) {
    const sent = await post('/v2/email/outbound-emails', {
      FromEmailAddress: FROM,
      Destination: { ToAddresses: [message.to] },
      Content: { Template: { TemplateName: message.template, TemplateData: JSON.stringify(templateData(message.template, message.data)) } },
    });
    expect(sent.status).toBe(200);
    const { MessageId } = JSON.parse(sent.body) as { MessageId: string };
    const store = (await (await fetch(`${base}/store`)).json()) as {
      emails: { messageId: string; subject: string; body: { html?: string; text?: string } }[];
    };
    const email = store.emails.find((e) => e.messageId === MessageId)!;
    return { subject: email.subject, html: email.body.html, text: email.body.text };
  }

  it.each<[string, () => EmailMessage]>([
    ['ticket-confirmation', confirmation],
    ['event-published', () => ({
      id: randomUUID(),
      to: 'org@example.com',
      template: 'event-published' as EmailTemplate,
      data: { organiserName: 'Carthage <Prod>', event, ticketTypes: [{ name: 'VIP & friends', priceFormatted: '120.000 TND', capacity: 50 }] },
    })],
    ['refund-completed (event cancelled)', () => refund('event-cancelled')],
    ['refund-completed (buyer)', () => refund('buyer')],
  ])('%s renders there exactly as renderEmail renders it', async (_name, make) => {
    const message = make();
    const rendered = await sendThroughEmulator(message);

    expect(rendered).toEqual(renderEmail(message.template, message.data));
    expect(rendered.html).not.toContain('<live>');
    expect(rendered.subject).toContain('<live> & more');
  });
});

describe('ses-templates: what it decides (aws-sdk-client-mock)', () => {
  const client = new SESClient({ region: REGION, credentials });
  const ses = mockClient(client);
  const missing = () => new TemplateDoesNotExistException({ message: 'Template does not exist.', $metadata: {}, TemplateName: 'x' });
  const asStored = (name: EmailTemplate) => {
    const { subject, html, text } = EMAIL_TEMPLATES[name];
    return { Template: { TemplateName: name, SubjectPart: subject, HtmlPart: html, TextPart: text } };
  };

  beforeEach(() => ses.reset());
  afterAll(() => client.destroy());

  it('creates every template when SES has none, and reports each', async () => {
    ses.on(GetTemplateCommand).rejects(missing());
    ses.on(CreateTemplateCommand).resolves({});
    const reported: string[] = [];

    const done = await publishEmailTemplates(client, EMAIL_TEMPLATES, (name, action) => reported.push(`${name}: ${action}`));

    expect(reported).toEqual(['ticket-confirmation: created', 'event-published: created', 'refund-completed: created']);
    expect(done.map((d) => d.action)).toEqual(['created', 'created', 'created']);
    expect(ses.commandCalls(CreateTemplateCommand).map((c) => c.args[0].input)).toEqual(
      (Object.keys(EMAIL_TEMPLATES) as EmailTemplate[]).map((name) => asStored(name)),
    );
    expect(ses.commandCalls(UpdateTemplateCommand)).toHaveLength(0);
  });

  it('updates a template that exists with other content, and leaves an identical one alone', async () => {
    ses.on(GetTemplateCommand, { TemplateName: 'ticket-confirmation' }).resolves({
      Template: { TemplateName: 'ticket-confirmation', SubjectPart: 'Your tickets', HtmlPart: '<p>old</p>', TextPart: 'old' },
    });
    ses.on(GetTemplateCommand, { TemplateName: 'event-published' }).resolves(asStored('event-published'));
    ses.on(GetTemplateCommand, { TemplateName: 'refund-completed' }).rejects(missing());
    ses.on(UpdateTemplateCommand).resolves({});
    ses.on(CreateTemplateCommand).resolves({});

    expect(await publishEmailTemplates(client)).toEqual([
      { name: 'ticket-confirmation', action: 'updated' },
      { name: 'event-published', action: 'unchanged' },
      { name: 'refund-completed', action: 'created' },
    ]);
    expect(ses.commandCalls(UpdateTemplateCommand).map((c) => c.args[0].input)).toEqual([asStored('ticket-confirmation')]);
    expect(ses.commandCalls(CreateTemplateCommand).map((c) => c.args[0].input)).toEqual([asStored('refund-completed')]);
  });

  it('updates when another run created the template between its GetTemplate and its CreateTemplate', async () => {
    ses.on(GetTemplateCommand).rejects(missing());
    ses.on(CreateTemplateCommand).rejects(new AlreadyExistsException({ message: 'exists', $metadata: {}, Name: 'x' }));
    ses.on(UpdateTemplateCommand).resolves({});

    expect((await publishEmailTemplates(client)).map((d) => d.action)).toEqual(['updated', 'updated', 'updated']);
  });

  it('stops at the first failure, naming the template; other GetTemplate errors are not taken for "missing"', async () => {
    ses.on(GetTemplateCommand).rejects(new SESServiceException({ name: 'AccessDenied', $fault: 'client', message: 'not allowed', $metadata: {} }));
    const reported: string[] = [];

    await expect(publishEmailTemplates(client, EMAIL_TEMPLATES, (name) => reported.push(name))).rejects.toThrow(
      'template ticket-confirmation: AccessDenied: not allowed',
    );
    expect(reported).toEqual([]);
    expect(ses.commandCalls(CreateTemplateCommand)).toHaveLength(0);
    expect(ses.commandCalls(GetTemplateCommand)).toHaveLength(1);
  });
});
