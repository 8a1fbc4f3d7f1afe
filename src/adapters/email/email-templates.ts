import * as Handlebars from 'handlebars';
import type { EmailMessage, EmailTemplate, TemplateData } from '../../ports/email-sender.port';
import { plainText } from '../../common/plain-text';

/**
 * The three e-mails, as SES templates: the source of truth that `npm run ses:templates` uploads, and
 * that the local renderer (file driver, tests) renders the same way.
 *
 * Two facts about SES rendering shape everything below:
 * - SES does NOT escape HTML when it renders a template ("SES doesn't escape HTML content when
 *   rendering the HTML template for a message… you will need to escape it on the client side",
 *   SES developer guide, "Advanced email personalization"). Event titles, venues and names are typed
 *   by users, so the HTML part never prints a raw field: it reads the escaped copy under `html.`
 *   that `templateData()` adds, while the subject and the text part (not HTML) read the raw fields.
 * - SES allows Handlebars' built-in helpers only (`if`, `unless`, `each`, `with`…), no custom ones
 *   and no `eq`: a choice among values is made in `templateData()` as booleans (`reasonIsBuyer`…).
 *
 * Every sender therefore sends `templateData(template, data)`, never the bare payload.
 */

export interface EmailContent {
  subject: string;
  html: string;
  text: string;
}

/** The escaped copy's key; templates print `{{html.event.title}}` in the HTML part. */
const ESCAPED = 'html';

const FONT = "-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif";
const MUTED = 'color:#52525b;';
const H1 = 'margin:0 0 16px;font-size:22px;line-height:28px;font-weight:700;color:#18181b;';
const P = 'margin:0 0 16px;font-size:16px;line-height:24px;';
const LABEL = `padding:4px 12px 4px 0;font-size:14px;line-height:20px;vertical-align:top;white-space:nowrap;${MUTED}`;
const VALUE = 'padding:4px 0;font-size:14px;line-height:20px;vertical-align:top;font-weight:600;';
const SMALL = `margin:0 0 16px;font-size:14px;line-height:20px;${MUTED}`;
const CARD = 'margin:0 0 16px;padding:16px;border:1px solid #e4e4e7;border-radius:8px;background:#fafafa;';

/**
 * One column, at most 600 px wide and fluid below, tables for layout and inline styles only:
 * what mail clients (Outlook included) render alike, with no external asset to fetch.
 */
function layout(title: string, preheader: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="x-apple-disable-message-reformatting">
<title>${title}</title>
</head>
<body style="margin:0;padding:0;background-color:#f4f4f5;">
<div style="display:none;max-height:0;overflow:hidden;mso-hide:all;">${preheader}</div>
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="background-color:#f4f4f5;">
<tr><td align="center" style="padding:16px 8px;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="max-width:600px;background-color:#ffffff;border-radius:8px;font-family:${FONT};color:#18181b;">
<tr><td style="padding:24px 20px;">
${body}
</td></tr>
</table>
<p style="margin:16px 0 0;font-family:${FONT};font-size:12px;line-height:18px;${MUTED}">Tickr · You receive this e-mail because of an order or an event on Tickr.</p>
</td></tr>
</table>
</body>
</html>
`;
}

/** A two-column list of facts; `rows` are [label, Handlebars expression] pairs. */
function facts(rows: [string, string][]): string {
  const cells = rows.map(([label, value]) => `<tr><td style="${LABEL}">${label}</td><td style="${VALUE}">${value}</td></tr>`);
  return `<table role="presentation" cellpadding="0" cellspacing="0" border="0" style="margin:0 0 16px;">\n${cells.join('\n')}\n</table>`;
}

/** The event block every e-mail shows: title, start in the event's own zone, venue. */
const EVENT_CARD_HTML = `<div style="${CARD}">
<p style="margin:0 0 8px;font-size:18px;line-height:24px;font-weight:700;">{{html.event.title}}</p>
<p style="margin:0 0 4px;font-size:14px;line-height:20px;">{{html.event.startsAtLocal}}</p>
<p style="margin:0;font-size:14px;line-height:20px;${MUTED}">{{html.event.venueName}}<br>{{html.event.venueAddress}}, {{html.event.venueCity}}</p>
</div>`;

const EVENT_TEXT = `{{event.title}}
When:  {{event.startsAtLocal}}
Where: {{event.venueName}}, {{event.venueAddress}}, {{event.venueCity}}`;

const TICKET_CONFIRMATION: EmailContent = {
  subject: 'Your tickets for {{event.title}} (order {{orderReference}})',
  html: layout(
    'Your tickets for {{html.event.title}}',
    'Your tickets for {{html.event.title}}, {{html.event.startsAtLocal}}',
    `<h1 style="${H1}">Your tickets are ready</h1>
<p style="${P}">Hello {{html.buyerName}}, thank you for your order. Here are your tickets.</p>
${EVENT_CARD_HTML}
${facts([
  ['Order reference', '{{html.orderReference}}'],
  ['Amount paid', '{{html.amountFormatted}}'],
])}
{{#each html.tickets}}
<div style="${CARD}text-align:center;">
<p style="margin:0 0 4px;font-size:16px;line-height:22px;font-weight:700;">{{ticketTypeName}}</p>
<p style="margin:0 0 12px;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:15px;line-height:20px;letter-spacing:1px;">{{code}}</p>
{{#if qrPng}}
<img src="{{qrPng}}" alt="QR code for {{code}}" width="200" height="200" style="display:block;margin:0 auto;width:200px;max-width:100%;height:auto;border:0;">
{{/if}}
</div>
{{/each}}
<p style="${SMALL}">Show one QR code per person at the entrance; each ticket is admitted once. If the image does not display, the code printed above it works too.</p>`,
  ),
  text: `Hello {{buyerName}},

Thank you for your order. Here are your tickets.

${EVENT_TEXT}

Order reference: {{orderReference}}
Amount paid:     {{amountFormatted}}

Tickets:
{{#each tickets}}
- {{ticketTypeName}}: {{code}}
{{/each}}

Show one ticket per person at the entrance; each ticket is admitted once. The QR codes are in the HTML version of this e-mail; the codes above work too.
`,
};

const EVENT_PUBLISHED: EmailContent = {
  subject: 'Your event is live: {{event.title}}',
  html: layout(
    'Your event is live: {{html.event.title}}',
    '{{html.event.title}} is published and on sale.',
    `<h1 style="${H1}">Your event is live</h1>
<p style="${P}">Hello {{html.organiserName}}, your event is published: buyers can find it and buy tickets now.</p>
${EVENT_CARD_HTML}
<p style="margin:0 0 8px;font-size:16px;line-height:22px;font-weight:700;">Tickets on sale</p>
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="margin:0 0 16px;border-collapse:collapse;">
<tr><th align="left" style="padding:6px 8px 6px 0;font-size:13px;line-height:18px;border-bottom:1px solid #e4e4e7;${MUTED}">Ticket</th><th align="right" style="padding:6px 8px;font-size:13px;line-height:18px;border-bottom:1px solid #e4e4e7;${MUTED}">Price</th><th align="right" style="padding:6px 0 6px 8px;font-size:13px;line-height:18px;border-bottom:1px solid #e4e4e7;${MUTED}">Capacity</th></tr>
{{#each html.ticketTypes}}
<tr><td style="padding:6px 8px 6px 0;font-size:14px;line-height:20px;border-bottom:1px solid #f4f4f5;">{{name}}</td><td align="right" style="padding:6px 8px;font-size:14px;line-height:20px;border-bottom:1px solid #f4f4f5;white-space:nowrap;">{{priceFormatted}}</td><td align="right" style="padding:6px 0 6px 8px;font-size:14px;line-height:20px;border-bottom:1px solid #f4f4f5;">{{capacity}}</td></tr>
{{else}}
<tr><td colspan="3" style="padding:6px 0;font-size:14px;line-height:20px;${MUTED}">No ticket types yet.</td></tr>
{{/each}}
</table>`,
  ),
  text: `Hello {{organiserName}},

Your event is published: buyers can find it and buy tickets now.

${EVENT_TEXT}

Tickets on sale:
{{#each ticketTypes}}
- {{name}}: {{priceFormatted}}, capacity {{capacity}}
{{else}}
- No ticket types yet.
{{/each}}
`,
};

const REFUND_COMPLETED: EmailContent = {
  subject: 'Your refund for {{event.title}} (order {{orderReference}})',
  html: layout(
    'Your refund for {{html.event.title}}',
    '{{html.amountFormatted}} refunded for order {{html.orderReference}}.',
    `<h1 style="${H1}">Your refund is complete</h1>
<p style="${P}">Hello {{html.buyerName}},</p>
{{#if reasonIsEventCancelled}}
<p style="${P}">The organiser has cancelled this event, so your order has been refunded.</p>
{{/if}}
{{#if reasonIsOrganiser}}
<p style="${P}">The organiser of this event has refunded your order.</p>
{{/if}}
{{#if reasonIsBuyer}}
<p style="${P}">Your order has been refunded, as you asked.</p>
{{/if}}
${EVENT_CARD_HTML}
${facts([
  ['Order reference', '{{html.orderReference}}'],
  ['Amount refunded', '{{html.amountFormatted}}'],
])}
<p style="${SMALL}">The tickets of this order are no longer valid. The money goes back to the payment method you used; depending on your bank, it can take a few days to show on your statement.</p>`,
  ),
  text: `Hello {{buyerName}},

{{#if reasonIsEventCancelled}}
The organiser has cancelled this event, so your order has been refunded.
{{/if}}
{{#if reasonIsOrganiser}}
The organiser of this event has refunded your order.
{{/if}}
{{#if reasonIsBuyer}}
Your order has been refunded, as you asked.
{{/if}}

${EVENT_TEXT}

Order reference: {{orderReference}}
Amount refunded: {{amountFormatted}}

The tickets of this order are no longer valid. The money goes back to the payment method you used; depending on your bank, it can take a few days to show on your statement.
`,
};

/** The SES templates, by name (the name in SES is the `EmailTemplate` itself). */
export const EMAIL_TEMPLATES: Record<EmailTemplate, EmailContent> = {
  'ticket-confirmation': TICKET_CONFIRMATION,
  'event-published': EVENT_PUBLISHED,
  'refund-completed': REFUND_COMPLETED,
};

const HTML_ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Safe in element content and in double-quoted attributes, the only places templates print values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => HTML_ENTITIES[c]);
}

function escapeDeep(value: unknown): unknown {
  if (typeof value === 'string') return escapeHtml(value);
  if (Array.isArray(value)) return value.map(escapeDeep);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, v]) => [key, escapeDeep(v)]));
  }
  return value;
}

/** Every string of the payload as plain text (no controls, no bidi overrides, bounded), but the QR images. */
function plainDeep(value: unknown, key = ''): unknown {
  if (typeof value === 'string') return key === 'qrPng' ? value : plainText(value);
  if (Array.isArray(value)) return value.map((v) => plainDeep(v));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plainDeep(v, k)]));
  }
  return value;
}

/** What an `<img src>` may hold: a base64 PNG, nothing that could be a link or a script. */
const PNG_DATA_URL = /^data:image\/png;base64,[A-Za-z0-9+/]+=*$/;

type Ticket = Record<string, unknown> & { qrPng?: unknown };

/** For the HTML part: keeps `qrPng` only when it is a PNG data URL; without it the ticket shows no image. */
function withSafeImage(ticket: Ticket): Ticket {
  const { qrPng, ...rest } = ticket;
  return typeof qrPng === 'string' && PNG_DATA_URL.test(qrPng) ? { ...rest, qrPng } : rest;
}

/** For the subject and the text part, which show no image: the QR codes are sent once, not twice. */
function withoutImage(ticket: Ticket): Ticket {
  const { qrPng: _image, ...rest } = ticket;
  return rest;
}

const isTicket = (value: unknown): value is Ticket => value !== null && typeof value === 'object' && !Array.isArray(value);

/** Facts the templates need that plain Handlebars cannot compute (there is no `eq` in SES). */
function derived(template: EmailTemplate, data: Record<string, unknown>): Record<string, unknown> {
  if (template !== 'refund-completed') return {};
  return {
    reasonIsBuyer: data.reason === 'buyer',
    reasonIsOrganiser: data.reason === 'organiser',
    reasonIsEventCancelled: data.reason === 'event-cancelled',
  };
}

type Payload<T extends EmailTemplate> = TemplateData[T] | EmailMessage['data'];

/**
 * The data a template is rendered with, by SES (`TemplateData`) and locally: the payload's fields and
 * the derived booleans as they are (for the subject and the text part), and under `html` an
 * HTML-escaped copy of both for the HTML part. A ticket's QR image (`qrPng`) is only in the copy,
 * the one part that shows it: SES caps `TemplateData` at 262,144 characters and the images are most
 * of it.
 */
export function templateData<T extends EmailTemplate>(template: T, data: Payload<T>): Record<string, unknown> {
  const payload = plainDeep(data) as Record<string, unknown>;
  const plain: Record<string, unknown> = { ...payload, ...derived(template, payload) };
  const forHtml: Record<string, unknown> = { ...plain };
  if (Array.isArray(payload.tickets)) {
    const tickets = payload.tickets as unknown[];
    plain.tickets = tickets.map((t) => (isTicket(t) ? withoutImage(t) : t));
    forHtml.tickets = tickets.map((t) => (isTicket(t) ? withSafeImage(t) : t));
  }
  return { ...plain, [ESCAPED]: escapeDeep(forHtml) };
}

/**
 * SES's rules: no escaping (hence `noEscape`; the escaping is in the data), built-in helpers only
 * (`knownHelpersOnly` refuses anything else at compile time, as SES would at send time), and a
 * missing field renders empty rather than failing.
 */
const engine = Handlebars.create();
const COMPILE_OPTIONS: CompileOptions = { noEscape: true, knownHelpersOnly: true, strict: false };

type Renderer = (data: Record<string, unknown>) => EmailContent;
const compiled = new Map<EmailTemplate, Renderer>();

function rendererOf(template: EmailTemplate): Renderer {
  let render = compiled.get(template);
  if (!render) {
    const source = EMAIL_TEMPLATES[template];
    if (!source) throw new Error(`unknown e-mail template: ${String(template)}`);
    const subject = engine.compile(source.subject, COMPILE_OPTIONS);
    const html = engine.compile(source.html, COMPILE_OPTIONS);
    const text = engine.compile(source.text, COMPILE_OPTIONS);
    render = (data) => ({ subject: subject(data), html: html(data), text: text(data) });
    compiled.set(template, render);
  }
  return render;
}

/** The e-mail as SES would render it from `templateData(template, data)`. */
export function renderEmail<T extends EmailTemplate>(template: T, data: Payload<T>): EmailContent {
  return rendererOf(template)(templateData(template, data));
}
