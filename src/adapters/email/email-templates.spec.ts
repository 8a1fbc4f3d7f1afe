import * as Handlebars from 'handlebars';
import * as QRCode from 'qrcode';
import { formatMoney } from '../../common/money';
import { EMAIL_TEMPLATES, renderEmail, templateData } from './email-templates';
import type { EventPublishedData, EventSummary, RefundCompletedData, TicketConfirmationData } from '../../ports/email-sender.port';

const ORDER_ID = '3f2a9c4e-7b1d-4e8a-9c55-0a1b2c3d4e5f';

function event(overrides: Partial<EventSummary> = {}): EventSummary {
  const startsAt = new Date('2026-03-14T19:00:00Z');
  return {
    id: '0b6f1e9a-2c3d-4e5f-8a9b-1c2d3e4f5a6b',
    title: 'Jazz à Carthage',
    venueName: 'Théâtre Romain de Carthage',
    venueAddress: 'Rue Hannibal',
    venueCity: 'Carthage',
    startsAt: startsAt.toISOString(),
    // As the notifications module formats it (notification.model.ts formatInZone).
    startsAtLocal: 'Saturday 14 March 2026, 20:00 (Africa/Tunis)',
    timezone: 'Africa/Tunis',
    ...overrides,
  };
}

/** QR images as the outbox relay makes them; made once per code, as making one takes a while. */
const images = new Map<string, Promise<string>>();
async function ticket(code: string, ticketTypeName: string) {
  if (!images.has(code)) images.set(code, QRCode.toDataURL(code, { errorCorrectionLevel: 'M', margin: 2, width: 240 }));
  return { code, ticketTypeName, qrPng: await images.get(code)! };
}

/** `Intl` separates the currency code with a no-break space. */
const spaced = (s: string) => s.replace(/\u00a0/g, ' ');

async function confirmation(overrides: Partial<TicketConfirmationData> = {}): Promise<TicketConfirmationData> {
  return {
    buyerName: 'Amira Ben Salah',
    orderId: ORDER_ID,
    orderReference: '3F2A9C4E',
    event: event(),
    amount: 135_500,
    currency: 'TND',
    amountFormatted: formatMoney(135_500, 'TND'),
    tickets: [
      await ticket('q7Xk2mZpL0sV9aBcDeFgHiJk', 'VIP'),
      await ticket('R3nT8wYu1oPq5LmNbVcXzAsD', 'Standard'),
      await ticket('h6GfDsA9zXcVbNmQwErTyUiO', 'Standard'),
    ],
    ...overrides,
  };
}

function refund(reason: RefundCompletedData['reason']): RefundCompletedData {
  return {
    buyerName: 'Amira Ben Salah',
    orderId: ORDER_ID,
    orderReference: '3F2A9C4E',
    event: event(),
    amount: 45_000,
    currency: 'TND',
    amountFormatted: formatMoney(45_000, 'TND'),
    reason,
  };
}

const published: EventPublishedData = {
  organiserName: 'Carthage Productions',
  event: event(),
  ticketTypes: [
    { name: 'VIP', priceFormatted: formatMoney(120_000, 'TND'), capacity: 50 },
    { name: 'Standard', priceFormatted: formatMoney(45_000, 'TND'), capacity: 1200 },
  ],
};

describe('ticket-confirmation', () => {
  it('names the event, its venue, its local start, the amount paid and the order reference', async () => {
    const data = await confirmation();
    const { subject, html, text } = renderEmail('ticket-confirmation', data);

    expect(spaced(data.amountFormatted)).toBe('TND 135.500');
    expect(data.event.startsAtLocal).toMatch(/14 March 2026.*20:00 \(Africa\/Tunis\)$/);
    expect(subject).toBe('Your tickets for Jazz à Carthage (order 3F2A9C4E)');
    for (const part of [html, text]) {
      expect(part).toContain('Amira Ben Salah');
      expect(part).toContain('Jazz à Carthage');
      expect(part).toContain('Théâtre Romain de Carthage');
      expect(part).toContain('Rue Hannibal, Carthage');
      expect(part).toContain(data.event.startsAtLocal);
      expect(part).toContain(data.amountFormatted);
      expect(part).toContain('3F2A9C4E');
    }
    expect(text).toContain(`Amount paid:     ${data.amountFormatted}`);
  });

  it('lists every ticket with its type and code, and its QR image in the HTML part only', async () => {
    const data = await confirmation();
    const { html, text } = renderEmail('ticket-confirmation', data);

    for (const t of data.tickets) {
      expect(html).toContain(`<img src="${t.qrPng}" alt="QR code for ${t.code}"`);
      expect(text).toContain(`- ${t.ticketTypeName}: ${t.code}`);
    }
    expect(html.match(/<img /g)).toHaveLength(3);
    expect(text).not.toContain('data:image');
    expect(text).not.toContain('<');
  });

  it('prints a JPY amount without decimals', async () => {
    const data = await confirmation({ amount: 12_000, currency: 'JPY', amountFormatted: formatMoney(12_000, 'JPY'), tickets: [await ticket('jP9yEnT1cKeT2cOdE3aBcDeF', 'Arena')] });
    const { html, text } = renderEmail('ticket-confirmation', data);

    expect(data.amountFormatted).toBe('¥12,000');
    expect(html).toContain('¥12,000');
    expect(text).toContain('Amount paid:     ¥12,000');
    expect(text).toContain('- Arena: jP9yEnT1cKeT2cOdE3aBcDeF');
  });

  it('escapes what users typed in the HTML part, and leaves the plain-text parts as typed', async () => {
    const title = '<script>alert("x")</script> Rock & Roll';
    const data = await confirmation({
      buyerName: `Eve <img src=x onerror=alert(1)>`,
      event: event({ title, venueName: `O'Hara "Hall"` }),
      tickets: [{ code: 'x" onerror="alert(1)', ticketTypeName: '<b>VIP</b>', qrPng: 'data:image/png;base64,iVBORw0KGgo=' }],
    });
    const { subject, html, text } = renderEmail('ticket-confirmation', data);

    expect(html).not.toContain('<script');
    expect(html).not.toContain('<b>');
    expect(html).not.toContain('onerror="');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; Rock &amp; Roll');
    expect(html).toContain('Eve &lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('O&#39;Hara &quot;Hall&quot;');
    expect(html).toContain('alt="QR code for x&quot; onerror=&quot;alert(1)"');
    expect(html).toContain('&lt;b&gt;VIP&lt;/b&gt;');
    expect(subject).toBe(`Your tickets for ${title} (order 3F2A9C4E)`);
    expect(text).toContain(title);
    expect(text).toContain(`O'Hara "Hall"`);
  });

  it('shows no image for a QR that is not a PNG data URL, or is missing', async () => {
    const data = await confirmation({
      tickets: [
        { code: 'AAAAAAAAAAAAAAAAAAAAAAAA', ticketTypeName: 'Standard', qrPng: 'javascript:alert(1)' },
        { code: 'BBBBBBBBBBBBBBBBBBBBBBBB', ticketTypeName: 'Standard', qrPng: 'https://tracker.example/pixel.png' },
        { code: 'CCCCCCCCCCCCCCCCCCCCCCCC', ticketTypeName: 'Standard' },
      ],
    });
    const { html } = renderEmail('ticket-confirmation', data);

    expect(html).not.toContain('<img');
    expect(html).not.toContain('javascript:');
    expect(html).not.toContain('tracker.example');
    for (const t of data.tickets) expect(html).toContain(t.code);
  });
});

describe('event-published', () => {
  it('greets the organiser and lists each ticket type with its price and capacity', () => {
    const { subject, html, text } = renderEmail('event-published', published);
    const [html_, text_] = [spaced(html), spaced(text)];

    expect(subject).toBe('Your event is live: Jazz à Carthage');
    for (const part of [html, text]) {
      expect(part).toContain('Carthage Productions');
      expect(part).toContain(published.event.startsAtLocal);
      expect(part).toContain('Théâtre Romain de Carthage');
      expect(part).toContain('Rue Hannibal, Carthage');
    }
    expect(text_).toContain('- VIP: TND 120.000, capacity 50');
    expect(text_).toContain('- Standard: TND 45.000, capacity 1200');
    expect(html_).toMatch(/>VIP<\/td><td[^>]*>TND 120\.000<\/td><td[^>]*>50<\/td>/);
    expect(html_).toMatch(/>Standard<\/td><td[^>]*>TND 45\.000<\/td><td[^>]*>1200<\/td>/);
    expect(html).not.toContain('No ticket types yet');
  });

  it('says so when there is no ticket type', () => {
    const { html, text } = renderEmail('event-published', { ...published, ticketTypes: [] });
    expect(html).toContain('No ticket types yet.');
    expect(text).toContain('- No ticket types yet.');
  });
});

describe('refund-completed', () => {
  const sentences = {
    buyer: 'Your order has been refunded, as you asked.',
    organiser: 'The organiser of this event has refunded your order.',
    'event-cancelled': 'The organiser has cancelled this event, so your order has been refunded.',
  } as const;

  it.each(Object.keys(sentences) as RefundCompletedData['reason'][])('explains a "%s" refund, and only that reason', (reason) => {
    const { subject, html, text } = renderEmail('refund-completed', refund(reason));

    expect(subject).toBe('Your refund for Jazz à Carthage (order 3F2A9C4E)');
    for (const part of [html, text]) {
      expect(part).toContain(sentences[reason]);
      for (const [other, sentence] of Object.entries(sentences)) if (other !== reason) expect(part).not.toContain(sentence);
      expect(spaced(part)).toContain('TND 45.000');
      expect(part).toContain('3F2A9C4E');
      expect(part).toContain('Jazz à Carthage');
      expect(part).toContain(event().startsAtLocal);
    }
    expect(spaced(text)).toContain('Amount refunded: TND 45.000');
  });
});

describe('templateData', () => {
  it('keeps the payload fields, adds the reason booleans, and an HTML-escaped copy under html', () => {
    const data = { ...refund('event-cancelled'), buyerName: 'A & B' };
    const sent = templateData('refund-completed', data);

    expect(sent).toMatchObject({ ...data, reasonIsBuyer: false, reasonIsOrganiser: false, reasonIsEventCancelled: true });
    expect(sent.html).toMatchObject({ buyerName: 'A &amp; B', amount: 45_000, reasonIsEventCancelled: true, event: { title: 'Jazz à Carthage' } });
  });

  it('sends each QR image once, in the copy for the HTML part', async () => {
    const data = await confirmation();
    const sent = templateData('ticket-confirmation', data) as { tickets: object[]; html: { tickets: object[] } };

    expect(sent.tickets).toEqual(data.tickets.map(({ code, ticketTypeName }) => ({ code, ticketTypeName })));
    expect(sent.html.tickets).toEqual(data.tickets);
    expect(JSON.stringify(sent).split('data:image/png').length - 1).toBe(3);
  });

  it('keeps an order of 60 tickets under SES\'s 262,144-character TemplateData limit', async () => {
    // One real QR image (codes of one length make images of one size), copied: making 60 is slow.
    const { qrPng } = await ticket('q7Xk2mZpL0sV9aBcDeFgHiJk', 'Standard');
    const tickets = Array.from({ length: 60 }, (_, i) => ({ code: `c0de${String(i).padStart(20, '0')}`, ticketTypeName: 'Standard', qrPng }));
    expect(JSON.stringify(templateData('ticket-confirmation', await confirmation({ tickets }))).length).toBeLessThan(262_144);
  });
});

/**
 * The invariant that keeps users' text from becoming markup: SES does not escape, so the HTML part
 * may print only the escaped copy (`html.…`, or fields of an `{{#each html.…}}` item), and the
 * subject and text part never print it (they would show `&amp;`).
 */
describe('the templates themselves', () => {
  type Node = hbs.AST.Node & { type: string };
  interface Printed {
    path: string;
    inEscapedEach: boolean;
  }

  function printedPaths(source: string): Printed[] {
    const found: Printed[] = [];
    const walk = (nodes: hbs.AST.Statement[], inEscapedEach: boolean) => {
      for (const node of nodes as Node[]) {
        if (node.type === 'MustacheStatement') {
          found.push({ path: ((node as hbs.AST.MustacheStatement).path as hbs.AST.PathExpression).original, inEscapedEach });
        } else if (node.type === 'BlockStatement') {
          const block = node as hbs.AST.BlockStatement;
          const helper = (block.path as hbs.AST.PathExpression).original;
          const param = (block.params[0] as hbs.AST.PathExpression | undefined)?.original ?? '';
          const escapedItems = inEscapedEach || (helper === 'each' && param.startsWith('html.'));
          walk(block.program.body, escapedItems);
          if (block.inverse) walk(block.inverse.body, inEscapedEach);
        }
      }
    };
    walk(Handlebars.parse(source).body, false);
    return found;
  }

  it.each(Object.keys(EMAIL_TEMPLATES) as (keyof typeof EMAIL_TEMPLATES)[])('%s prints only escaped values in HTML, only raw ones elsewhere', (name) => {
    const { subject, html, text } = EMAIL_TEMPLATES[name];

    const htmlPaths = printedPaths(html);
    expect(htmlPaths.length).toBeGreaterThan(0);
    for (const p of htmlPaths) expect(p.inEscapedEach || p.path.startsWith('html.') ? 'escaped' : p.path).toBe('escaped');
    for (const p of [...printedPaths(subject), ...printedPaths(text)]) expect(p.path).not.toMatch(/^html\./);
    expect(html + subject + text).not.toContain('{{{');
  });

  it('use no helper beyond Handlebars\' built-ins (SES allows no custom helper)', () => {
    for (const { subject, html, text } of Object.values(EMAIL_TEMPLATES)) {
      for (const source of [subject, html, text]) {
        expect(() => Handlebars.precompile(source, { knownHelpersOnly: true })).not.toThrow();
      }
    }
  });
});

describe('organiser-written text (issue 17, item 7)', () => {
  const hostile = '<script>alert(1)</script>\u202Egnp.exe\u202C Party\r\nBcc: victim@example.com ' + 'x'.repeat(500);

  it('an event titled with HTML, script, bidi overrides and line breaks renders escaped, stripped and bounded', async () => {
    const data = await confirmation({ event: event({ title: hostile, venueName: '<b>Hall</b>\u2067' }) });
    const { subject, html, text } = renderEmail('ticket-confirmation', data);
    for (const part of [subject, html, text]) {
      expect(part).not.toMatch(/[\u202a-\u202e\u2066-\u2069]/);
      expect(part).not.toContain('x'.repeat(300));
    }
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toContain('<b>Hall</b>');
    expect(subject).not.toMatch(/[\r\n]/);
    expect(text).not.toContain('\r\nBcc:');
  });
});
