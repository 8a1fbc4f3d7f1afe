import { randomBytes } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { baseEnv, spawnApp, type AppProcess } from '../../test/support/app';
import { createTestDatabase, type TestDatabase } from '../../test/support/database';
import { register } from '../../test/support/http';
import { organiser, sellableEvent } from '../../test/support/orders';
import { checkPage, DESKTOP, launchChromium, logIn, newContext, PHONE, trackScripts, WORDS, type Lang, type Viewport } from './browser';

const PASSWORD = 'a-long-enough-password';
const BUDGET_GZIP_BYTES = 150 * 1024;

describe('buyer in the browser', () => {
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

  it('is served by the app: an uncached shell on every non-API path, immutable hashed assets, API 404s kept', async () => {
    const shell = await fetch(`${app.url}/orders/some-id`);
    expect(shell.status).toBe(200);
    expect(shell.headers.get('cache-control')).toBe('no-cache');
    const html = await shell.text();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${app.url}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const unknown = await fetch(`${app.url}/v1/no-such-route`);
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect((await fetch(`${app.url}/assets/missing-0000.js`)).status).toBe(404);
  });

  const cases: Array<[Lang, string, Viewport]> = [['en', 'desktop', DESKTOP], ['en', 'phone', PHONE], ['ar', 'phone', PHONE]];
  it.each(cases)('finds an event by search, buys two tickets and sees two QR codes (%s, %s)', async (lang, size, viewport) => {
    const owner = await organiser(app.url);
    const title = `Jazz night ${randomBytes(3).toString('hex')}`;
    const sellable = await sellableEvent(app.url, owner, [{ name: 'Standard', price: 45_000, capacity: 50, maxPerOrder: 4 }], { title, currency: 'TND' });
    const buyer = await register(app.url, { role: 'buyer' });
    const context = await newContext(browser, app.url, viewport, lang === 'ar' ? 'ar-TN' : 'en-GB');
    const page = await context.newPage();
    const scripts = trackScripts(page);
    const w = WORDS[lang];
    const tag = `${lang}-${size}`;

    await page.goto('/');
    if (lang === 'ar') expect(await page.locator('html').getAttribute('dir')).toBe('rtl');
    await checkPage(page, `catalog-${tag}`);
    await logIn(page, buyer.user.email, PASSWORD, lang);
    await page.getByLabel(w.search).fill(title);
    await page.getByRole('button', { name: w.apply }).click();
    await page.getByRole('link', { name: title }).click();
    await page.waitForURL(`**/events/${sellable.eventId}`);
    // TND has three decimals: 45 000 minor units are 45.000 TND, whatever the language's digits.
    await page.getByText(/45[.,٫]000|٤٥٫٠٠٠/).first().waitFor();
    await checkPage(page, `event-${tag}`);
    await page.getByLabel(w.quantity('Standard')).fill('2');
    await page.getByRole('button', { name: w.reserve }).click();
    await page.waitForURL('**/checkout/*');
    await page.getByRole('timer').waitFor();
    await checkPage(page, `checkout-${tag}`);
    expect(scripts()).toBeLessThanOrEqual(BUDGET_GZIP_BYTES);
    if (tag === 'en-desktop') console.log(`buyer path JS (catalog → event → checkout): ${(scripts() / 1024).toFixed(1)} KB gzipped`);

    await page.getByRole('button', { name: w.pay }).click();
    await page.waitForURL('**/orders/*');
    await page.locator('.qr svg').nth(1).waitFor();
    expect(await page.locator('.qr svg').count()).toBe(2);
    await checkPage(page, `confirmation-${tag}`);
    await page.getByRole('link', { name: w.myOrders }).click();
    await page.waitForURL('**/orders');
    await page.getByRole('link').filter({ hasText: /View|عرض/ }).first().waitFor();
    await checkPage(page, `my-orders-${tag}`);
    await context.close();
  }, 90_000);

  it('explains a sold-out type and a quantity over the limit, and a declined card', async () => {
    const owner = await organiser(app.url);
    const title = `Tiny club ${randomBytes(3).toString('hex')}`;
    await sellableEvent(app.url, owner, [{ name: 'Floor', price: 2_000, capacity: 3, maxPerOrder: 2 }], { title, currency: 'EUR' });
    const buyer = await register(app.url, { role: 'buyer' });
    const context = await newContext(browser, app.url, DESKTOP);
    const page = await context.newPage();
    await logIn(page, buyer.user.email, PASSWORD);
    await page.getByLabel('Search events').fill(title);
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByRole('link', { name: title }).click();
    await page.getByText('€20.00').first().waitFor();
    await page.getByText('At most 2 per order').waitFor();

    await page.getByLabel('Quantity of Floor').fill('3');
    await page.getByRole('button', { name: 'Reserve tickets' }).click();
    await page.getByRole('alert').filter({ hasText: 'That is more tickets than one order may hold.' }).waitFor();

    await page.getByLabel('Quantity of Floor').fill('2');
    await page.getByRole('button', { name: 'Reserve tickets' }).click();
    await page.waitForURL('**/checkout/*');
    await page.getByLabel('Test card').selectOption('tok_chargeDeclined');
    await page.getByRole('button', { name: /^Pay / }).click();
    await page.getByRole('alert').filter({ hasText: 'Your card was declined.' }).waitFor();
    await checkPage(page, 'checkout-declined-en-desktop');

    // Another buyer takes the last seat; ours asks for two more.
    const other = await register(app.url, { role: 'buyer' });
    const other2 = await newContext(browser, app.url, DESKTOP);
    const page2 = await other2.newPage();
    await logIn(page2, other.user.email, PASSWORD);
    await page2.getByLabel('Search events').fill(title);
    await page2.getByRole('button', { name: 'Apply filters' }).click();
    await page2.getByRole('link', { name: title }).click();
    await page2.getByLabel('Quantity of Floor').fill('2');
    await page2.getByRole('button', { name: 'Reserve tickets' }).click();
    await page2.getByRole('alert').filter({ hasText: 'Sorry, not enough tickets are left.' }).waitFor();
    await checkPage(page2, 'event-sold-out-en-desktop');
    await context.close();
    await other2.close();
  }, 90_000);
});
