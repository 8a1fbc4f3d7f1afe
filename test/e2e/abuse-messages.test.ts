import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { startTestApp, TestApp, uniqueEmail } from '../support/app';
import { call, register, Session } from '../support/http';
import { droppedMessages, outboxSettled } from '../support/messages';
import { organiser, paidOrder, sellableEvent } from '../support/orders';
import { waitFor } from '../support/ports';
import { CHEAP_HASHING } from '../support/problems';

/**
 * Issue 17 item 7: organiser-written text (and a buyer's own name) reaches the e-mails and the SMS
 * plain (no control characters, no bidi overrides: no forged header-like lines, no reversed text),
 * HTML-escaped in the HTML part, and bounded, however it was written. Read from what the file
 * stand-ins received, end to end through the API.
 */

interface EmailFile {
  to: string;
  template: string;
  subject: string;
  html: string;
  text: string;
}
interface SmsFile {
  to: string;
  text: string;
}

const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
const CONTROL_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

// What an organiser types, at the title's limit of 200 characters.
const TITLE = `<script>alert("x")</script>\u202Egnp.exe\u202C Night\r\nBcc: victim@example.com\u001b[0m\u0007 & 'friends' ${'W'.repeat(120)}`.slice(0, 200);
const VENUE = '<img src=x onerror=alert(1)>\u2066Hall\u2069';
const ADDRESS = `1 Rue ${'de la Kasbah '.repeat(30)}`.slice(0, 300);
const TYPE = '<b>VIP</b>\u200f\u0007 front row';

describe('organiser text in messages (abuse)', () => {
  let t: TestApp;
  let db: Client;
  let emailDir: string;
  let smsDir: string;
  let owner: Session;
  let buyer: Session;
  let orderId: string;
  const phone = '+21655123987';

  beforeAll(async () => {
    emailDir = mkdtempSync(join(tmpdir(), 'tickr-abuse-mail-'));
    smsDir = mkdtempSync(join(tmpdir(), 'tickr-abuse-sms-'));
    t = await startTestApp({
      ...CHEAP_HASHING,
      EMAIL_DRIVER: 'file',
      EMAIL_FILE_DIR: emailDir,
      SMS_DRIVER: 'file',
      SMS_FILE_DIR: smsDir,
      OUTBOX_POLL_INTERVAL_MS: '100',
    });
    db = new Client({ connectionString: t.db.url });
    await db.connect();
    owner = await organiser(t.url);
    const s = await sellableEvent(t.url, owner, [{ name: TYPE, price: 20_000, capacity: 10 }], {
      title: TITLE,
      description: `<iframe src="https://evil.example"></iframe>\u202E${'x'.repeat(9_900)}`,
      venue: { name: VENUE, city: 'Tunis\u0085', address: ADDRESS },
    });
    // The API kept what was typed: the protection is in the messages.
    expect((await call(t.url, 'GET', `/v1/events/${s.eventId}`, { expect: 200 })).body.title).toBe(TITLE.trim());
    buyer = await register(t.url, { email: uniqueEmail('abuse'), role: 'buyer', name: '<a href="https://evil.example">Claim</a>\u202E', phone });
    // The SMS goes to a verified phone only; verifying it (by API) is phone-verification.test.ts.
    await db.query(`UPDATE users SET phone_verified_at = now() WHERE id = $1`, [buyer.user.id]);
    orderId = (await paidOrder(t.url, buyer, s, 2)).id;
    await outboxSettled(db);
  });
  afterAll(async () => {
    await db?.end();
    await t?.close();
    rmSync(emailDir, { recursive: true, force: true });
    rmSync(smsDir, { recursive: true, force: true });
  });

  const mail = (to: string, template: string) =>
    waitFor(async () => droppedMessages<EmailFile>(emailDir).find((m) => m.to === to && m.template === template), `${template} to ${to}`);

  it('the ticket-confirmation e-mail: subject one clean bounded line, HTML part escaped, text part plain', async () => {
    const m = await mail(buyer.user.email, 'ticket-confirmation');
    // The subject: one line, no controls or bidi overrides, the title cut at 200.
    expect(m.subject).not.toMatch(CONTROL);
    expect(m.subject).not.toMatch(BIDI);
    expect(m.subject).toContain('<script>alert("x")</script>gnp.exe Night Bcc: victim@example.com [0m & \'friends\'');
    expect(m.subject.length).toBeLessThanOrEqual(200 + 40);

    // The HTML part: nothing typed becomes markup.
    for (const raw of ['<script', '<img src=x', '<b>VIP', '<a href="https://evil', '<iframe']) expect(m.html).not.toContain(raw);
    expect(m.html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;gnp.exe Night Bcc: victim@example.com [0m &amp; &#39;friends&#39;');
    expect(m.html).toContain('&lt;img src=x onerror=alert(1)&gt;Hall');
    expect(m.html).toContain('&lt;b&gt;VIP&lt;/b&gt; front row');
    expect(m.html).toContain('Hello &lt;a href=&quot;https://evil.example&quot;&gt;Claim&lt;/a&gt;,');
    expect(m.html).not.toMatch(BIDI);
    expect(m.html).not.toMatch(CONTROL_BUT_NEWLINE);

    // The text part: the typed text as text, no controls (so no line of its own such as a forged
    // "Bcc:" header), no bidi overrides, each field at most 200 characters.
    expect(m.text).not.toMatch(BIDI);
    expect(m.text).not.toMatch(CONTROL_BUT_NEWLINE);
    expect(m.text).toContain('<b>VIP</b> front row');
    expect(m.text.split('\n').some((line) => line.startsWith('Bcc:'))).toBe(false);
    const address = ADDRESS.trim().replace(/ {2,}/g, ' ');
    expect(m.text).toContain(`${address.slice(0, 199)}…`);
    expect(m.text).not.toContain(address);
    // The description (10 000 characters) is in no message.
    for (const part of [m.subject, m.html, m.text]) expect(part).not.toContain('x'.repeat(100));
    expect(m.html.length).toBeLessThan(40_000);
  });

  it('the ticket-confirmation SMS: one segment, plain, the title cut to 60 characters', async () => {
    const [sms] = await waitFor(async () => {
      const found = droppedMessages<SmsFile>(smsDir).filter((m) => m.to === phone);
      return found.length ? found : undefined;
    }, 'the SMS');
    expect(droppedMessages<SmsFile>(smsDir).filter((m) => m.to === phone)).toHaveLength(1);
    expect(sms.text).not.toMatch(CONTROL);
    expect(sms.text).not.toMatch(BIDI);
    expect(sms.text.length).toBeLessThanOrEqual(160);
    const title = '<script>alert("x")</script>gnp.exe Night Bcc: victim@example.com [0m & \'friends\' WWW';
    // Cut where the rest of the segment leaves room (60 characters at most), marked by an ellipsis.
    const shown = /^Tickr: 2 tickets for (.*…), \w+day /.exec(sms.text)?.[1] ?? '';
    expect(shown.length).toBeGreaterThanOrEqual(40);
    expect(shown.length).toBeLessThanOrEqual(60);
    expect(title.startsWith(shown.slice(0, -1))).toBe(true);
    expect(sms.text).toContain(orderId.replace(/-/g, '').slice(0, 8).toUpperCase());
  });

  it("the organiser's event-published e-mail: the same title, escaped in HTML and plain in text", async () => {
    const m = await mail(owner.user.email, 'event-published');
    expect(m.subject).not.toMatch(CONTROL);
    expect(m.subject).not.toMatch(BIDI);
    expect(m.html).not.toContain('<script');
    expect(m.html).toContain('&lt;script&gt;');
    expect(m.html).toContain('&lt;b&gt;VIP&lt;/b&gt;');
    expect(m.text).not.toMatch(BIDI);
    expect(m.text).not.toMatch(CONTROL_BUT_NEWLINE);
    expect(m.text).toContain('<b>VIP</b> front row');
  });
});
