import type { Browser } from 'playwright-core';
import { baseEnv, spawnApp, type AppProcess } from '../../test/support/app';
import { createTestDatabase, type TestDatabase } from '../../test/support/database';
import { register } from '../../test/support/http';
import { organiser, sellableEvent } from '../../test/support/orders';
import { checkPage, launchChromium, logIn, newContext, PHONE } from './browser';

describe('a hold that expires on screen', () => {
  let db: TestDatabase;
  let app: AppProcess;
  let browser: Browser;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await spawnApp(baseEnv(db, { HOLD_TTL_SECONDS: '10' }));
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await app?.stop();
    await db?.drop();
  });

  it('counts down to expiresAt, then says the tickets were released and offers no payment', async () => {
    const owner = await organiser(app.url);
    const sellable = await sellableEvent(app.url, owner, [{ name: 'Seat', capacity: 5, maxPerOrder: 2 }]);
    const buyer = await register(app.url, { role: 'buyer' });
    const context = await newContext(browser, app.url, PHONE);
    const page = await context.newPage();
    await logIn(page, buyer.user.email, 'a-long-enough-password');
    await page.goto(`/events/${sellable.eventId}`);
    await page.getByLabel('Quantity of Seat').fill('1');
    await page.getByRole('button', { name: 'Reserve tickets' }).click();
    await page.getByRole('timer').filter({ hasText: /held for 0:(0\d|10)/ }).waitFor();
    await checkPage(page, 'checkout-countdown-en-phone');
    await page.getByRole('alert').filter({ hasText: 'Your hold has expired' }).waitFor({ timeout: 15_000 });
    expect(await page.getByRole('button', { name: /^Pay / }).count()).toBe(0);
    await checkPage(page, 'checkout-expired-en-phone');
    await context.close();
  }, 60_000);
});
