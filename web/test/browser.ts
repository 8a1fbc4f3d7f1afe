import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import AxeBuilder from '@axe-core/playwright';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { repoRoot } from '../../test/support/app-process';

/** Debian's Chromium, never a downloaded one; flags that keep it off the network and the GPU. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'],
  });
}

export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1280, height: 800 };
export type Viewport = typeof PHONE;

/** A fresh browser profile at a size, speaking `locale` (the app picks its language from it). */
export function newContext(browser: Browser, baseURL: string, viewport: Viewport, locale = 'en-GB'): Promise<BrowserContext> {
  return browser.newContext({ baseURL, viewport, locale, isMobile: viewport.width < 500, hasTouch: viewport.width < 500 });
}

const ARTIFACTS = join(repoRoot(), 'test/artifacts');

/** A screenshot under test/artifacts/ and an axe run: no serious or critical violation on the page. */
export async function checkPage(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  const results = await new AxeBuilder({ page }).analyze();
  const bad = results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  expect({ page: name, violations: bad }).toEqual({ page: name, violations: [] });
}

/** Every script the page fetched, gzipped as a server would send it; for the bundle budget. */
export function trackScripts(page: Page): () => number {
  const sizes = new Map<string, number>();
  page.on('response', (response) => {
    const type = response.headers()['content-type'] ?? '';
    if (!type.includes('javascript')) return;
    void response.body().then((body) => sizes.set(response.url(), gzipSync(body).length), () => undefined);
  });
  return () => [...sizes.values()].reduce((a, b) => a + b, 0);
}

/** Words the tests look for, per language (the app's own dictionaries live in the browser bundle). */
export const WORDS = {
  en: { login: 'Log in', email: 'E-mail', password: 'Password', search: 'Search events', apply: 'Apply filters', reserve: 'Reserve tickets', quantity: (n: string) => `Quantity of ${n}`, pay: /^Pay /, myOrders: 'My orders' },
  ar: { login: 'تسجيل الدخول', email: 'البريد الإلكتروني', password: 'كلمة المرور', search: 'ابحث عن فعالية', apply: 'تطبيق', reserve: 'احجز التذاكر', quantity: (n: string) => `عدد تذاكر ${n}`, pay: /^ادفع /, myOrders: 'طلباتي' },
};
export type Lang = keyof typeof WORDS;

export async function logIn(page: Page, email: string, password: string, lang: Lang = 'en'): Promise<void> {
  const w = WORDS[lang];
  await page.goto('/login');
  await page.getByLabel(w.email).fill(email);
  await page.getByLabel(w.password).fill(password);
  await page.getByRole('button', { name: w.login }).click();
  await page.waitForURL((url) => url.pathname !== '/login');
}

/** Resolves once `check` answers true; fails after `timeoutMs`. */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 200));
  }
}
