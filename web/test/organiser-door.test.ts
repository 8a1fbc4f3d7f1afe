import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { baseEnv, spawnApp, type AppProcess } from '../../test/support/app';
import { createTestDatabase, type TestDatabase } from '../../test/support/database';
import { call, register } from '../../test/support/http';
import { paidOrder } from '../../test/support/orders';
import { checkPage, DESKTOP, eventually, launchChromium, logIn, newContext, PHONE } from './browser';

const PASSWORD = 'a-long-enough-password';
// A 1×1 PNG: real image bytes, judged by the server's sniffing.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');

describe('organiser console and door in the browser', () => {
  let db: TestDatabase;
  let app: AppProcess;
  let browser: Browser;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await spawnApp(baseEnv(db));
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await app?.stop();
    await db?.drop();
  });

  it('an organiser creates, illustrates and publishes an event, and sees a sale arrive on the dashboard', async () => {
    const owner = await register(app.url, { role: 'organiser' });
    const context = await newContext(browser, app.url, DESKTOP);
    const page = await context.newPage();
    await logIn(page, owner.user.email, PASSWORD);
    await page.waitForURL('**/organiser');
    await checkPage(page, 'organiser-events-en-desktop');

    const title = `Open air ${randomBytes(3).toString('hex')}`;
    await page.getByRole('button', { name: 'New event' }).click();
    await page.getByText('title must be longer than or equal to 1 characters').or(page.locator('.field-error').first()).first().waitFor();
    await page.getByLabel('Title').fill(title);
    await page.getByLabel('Description').fill('Under the stars');
    await page.getByLabel('Venue').fill('Park');
    await page.getByLabel('City').fill('Sousse');
    await page.getByLabel('Address').fill('1 Corniche');
    await page.getByRole('button', { name: 'New event' }).click();
    await page.waitForURL('**/organiser/events/*');
    const eventId = page.url().split('/').pop() ?? '';

    await page.getByLabel('Name', { exact: true }).fill('General');
    await page.getByLabel(/^Price/).fill('25');
    await page.getByLabel('Capacity').fill('100');
    await page.getByRole('button', { name: 'Add ticket type' }).click();
    await page.getByText(/^General: /).waitFor();

    const dir = mkdtempSync(join(tmpdir(), 'tickr-web-'));
    writeFileSync(join(dir, 'cover.png'), PNG);
    writeFileSync(join(dir, 'notes.png'), 'this is text, not a picture');
    await page.getByLabel(/^Choose an image/).setInputFiles(join(dir, 'notes.png'));
    await page.getByRole('button', { name: 'Upload image' }).click();
    await page.getByRole('alert').filter({ hasText: 'That file is not a JPEG, PNG or WebP image.' }).waitFor();
    await page.getByLabel(/^Choose an image/).setInputFiles(join(dir, 'cover.png'));
    await page.getByRole('button', { name: 'Upload image' }).click();
    await eventually(async () => Boolean((await call(app.url, 'GET', `/v1/events/${eventId}`, { token: owner.accessToken })).body.imageUrl));
    await page.locator('img.hero').waitFor();

    await page.getByRole('button', { name: 'Publish' }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: 'Yes, confirm' }).click();
    await page.getByRole('heading', { name: `${title} · Published` }).waitFor();
    await page.getByTestId('tickets-sold').waitFor();
    expect(await page.getByTestId('tickets-sold').textContent()).toBe('0');
    await checkPage(page, 'organiser-event-en-desktop');

    const event = (await call(app.url, 'GET', `/v1/events/${eventId}`)).body;
    const buyer = await register(app.url, { role: 'buyer' });
    await paidOrder(app.url, buyer, { eventId, ticketTypeIds: [event.ticketTypes[0].id], currency: event.currency }, 2);
    await page.getByTestId('tickets-sold').filter({ hasText: /^2$/ }).waitFor({ timeout: 15_000 });
    await checkPage(page, 'organiser-dashboard-en-desktop');
    await context.close();
  }, 90_000);

  it.each([['en', PHONE], ['ar', PHONE], ['en', DESKTOP]] as const)('the door checks a ticket in by code and refuses the second scan while another page counts (%s)', async (lang, viewport) => {
    const owner = await register(app.url, { role: 'organiser' });
    const created = await call(app.url, 'POST', '/v1/events', {
      token: owner.accessToken,
      body: { title: 'Door night', description: 'x', category: 'concert', venue: { name: 'Club', city: 'Tunis', address: '2 Rue' }, startsAt: new Date(Date.now() + 86_400_000).toISOString(), endsAt: new Date(Date.now() + 90_000_000).toISOString(), timezone: 'Africa/Tunis', currency: 'TND' },
    });
    const tt = await call(app.url, 'POST', `/v1/events/${created.body.id}/ticket-types`, { token: owner.accessToken, body: { name: 'Entry', price: 1000, capacity: 10, maxPerOrder: 5 } });
    await call(app.url, 'POST', `/v1/events/${created.body.id}/publish`, { token: owner.accessToken });
    const buyer = await register(app.url, { role: 'buyer' });
    const order = await paidOrder(app.url, buyer, { eventId: created.body.id, ticketTypeIds: [tt.body.id], currency: 'TND' }, 2);
    const code: string = order.tickets[0].code;

    const locale = lang === 'ar' ? 'ar' : 'en-GB';
    const scanner = await newContext(browser, app.url, viewport, locale);
    const counter = await newContext(browser, app.url, DESKTOP, locale);
    const door = await scanner.newPage();
    const watch = await counter.newPage();
    await logIn(door, owner.user.email, PASSWORD, lang);
    await logIn(watch, owner.user.email, PASSWORD, lang);
    await door.goto(`/door/${created.body.id}`);
    await watch.goto(`/door/${created.body.id}`);
    const before = lang === 'ar' ? '0 من 2 دخلوا' : '0 of 2 checked in';
    const after = lang === 'ar' ? '1 من 2 دخلوا' : '1 of 2 checked in';
    await watch.getByText(before).waitFor();
    await checkPage(door, `door-${lang}-${viewport.width}`);

    await door.getByLabel(lang === 'ar' ? 'رمز التذكرة' : 'Ticket code').fill(code);
    await door.getByRole('button', { name: lang === 'ar' ? 'تسجيل الدخول للفعالية' : 'Check in' }).click();
    await door.locator('.answer.green').waitFor();
    await checkPage(door, `door-green-${lang}-${viewport.width}`);
    // The other page hears it from the stream (its polling is every 15 s: this waits 10).
    await watch.getByText(after).waitFor({ timeout: 10_000 });

    await door.getByRole('button', { name: lang === 'ar' ? 'التالي' : 'Scan next' }).click();
    await door.getByLabel(lang === 'ar' ? 'رمز التذكرة' : 'Ticket code').fill(code);
    await door.getByRole('button', { name: lang === 'ar' ? 'تسجيل الدخول للفعالية' : 'Check in' }).click();
    await door.locator('.answer.red').filter({ hasText: lang === 'ar' ? 'دخل مسبقًا في' : 'Already checked in at' }).waitFor();
    await checkPage(door, `door-red-${lang}-${viewport.width}`);

    await door.getByRole('button', { name: lang === 'ar' ? 'التالي' : 'Scan next' }).click();
    await door.getByLabel(lang === 'ar' ? 'رمز التذكرة' : 'Ticket code').fill('not-a-ticket-code');
    await door.getByRole('button', { name: lang === 'ar' ? 'تسجيل الدخول للفعالية' : 'Check in' }).click();
    await door.locator('.answer.red').filter({ hasText: lang === 'ar' ? 'ليست تذكرة لهذه الفعالية' : 'Not a ticket for this event' }).waitFor();
    await scanner.close();
    await counter.close();
  }, 90_000);
});
