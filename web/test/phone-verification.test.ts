import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { baseEnv, spawnApp, type AppProcess } from '../../test/support/app';
import { createTestDatabase, type TestDatabase } from '../../test/support/database';
import { call, register } from '../../test/support/http';
import { droppedMessages } from '../../test/support/messages';
import { waitFor } from '../../test/support/ports';
import { checkPage, DESKTOP, launchChromium, logIn, newContext } from './browser';

/** "Verify your phone" on My orders: number → code by SMS → verified (what the SMS stand-in received). */
describe('phone verification in the browser', () => {
  let db: TestDatabase;
  let app: AppProcess;
  let browser: Browser;
  let smsDir: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    smsDir = mkdtempSync(join(tmpdir(), 'tickr-web-sms-'));
    app = await spawnApp(baseEnv(db, { SMS_DRIVER: 'file', SMS_FILE_DIR: smsDir, OUTBOX_POLL_INTERVAL_MS: '100' }));
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await app?.stop();
    await db?.drop();
    rmSync(smsDir, { recursive: true, force: true });
  });

  it('sends a code to the number typed, takes the code, and shows the phone verified', async () => {
    const buyer = await register(app.url, { role: 'buyer' });
    const phone = '+21623456781';
    const context = await newContext(browser, app.url, DESKTOP);
    const page = await context.newPage();
    await logIn(page, buyer.user.email, 'a-long-enough-password');
    await page.goto('/orders');
    await page.getByRole('heading', { name: 'Your phone' }).waitFor();
    await checkPage(page, 'phone-unverified');
    await page.getByLabel('Phone number').fill(phone);
    await page.getByRole('button', { name: 'Send a code' }).click();
    await page.getByRole('status').filter({ hasText: `We sent a code to ${phone}` }).waitFor();
    const sms = await waitFor(async () => droppedMessages<{ to: string; text: string }>(smsDir).find((m) => m.to === phone), 'the SMS');
    const code = /^(\d{6})/.exec(sms.text)![1];

    const wrong = code === '000000' ? '000001' : '000000';
    await page.getByLabel('Code from the SMS').fill(wrong);
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByRole('alert').filter({ hasText: 'That code is wrong.' }).waitFor();
    await checkPage(page, 'phone-code');
    await page.getByLabel('Code from the SMS').fill(code);
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByText(`${phone} · Verified`).waitFor();
    expect((await call(app.url, 'GET', '/v1/me', { token: buyer.accessToken, expect: 200 })).body).toMatchObject({ phone, phoneVerified: true });
    await context.close();
  }, 90_000);
});
