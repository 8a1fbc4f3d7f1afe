import { mkdtempSync, rmSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { startTestApp, TestApp } from '../support/app';
import { call, register, Session } from '../support/http';
import { organiser, paidOrder, Sellable, sellableEvent } from '../support/orders';
import { droppedMessages, outboxSettled } from '../support/messages';
import { waitFor } from '../support/ports';
import { ODD_VALUES, prng } from '../support/fuzz';
import { CHEAP_HASHING, expectClientOutcome, expectFieldError, expectProblem } from '../support/problems';

/**
 * Issue 17 item 7: SMS go only to a phone its owner verified with a code sent to it. The code is
 * stored hashed, lives 10 minutes, takes 5 guesses, belongs to one account and one number; codes
 * are limited to 3 an hour per account and per number. What the SMS stand-in (SMS_DRIVER=file)
 * received is what a carrier would have been asked to send.
 */

interface SmsFile {
  id: string;
  to: string;
  text: string;
  sentAt: string;
}

const VERIFY = '/v1/me/phone/verification';
const CHECK = '/v1/me/phone/verify';
const uniquePhone = () => `+2169${randomInt(0, 10_000_000).toString().padStart(7, '0')}`;

describe('phone verification', () => {
  let t: TestApp;
  let db: Client;
  let dir: string;
  let sellable: Sellable;

  const smsTo = (to: string): SmsFile[] =>
    droppedMessages<SmsFile>(dir)
      .filter((m) => m.to === to)
      .sort((a, b) => a.sentAt.localeCompare(b.sentAt));
  const settled = () => outboxSettled(db);
  /** Asks for a code and returns the one the phone received. */
  const codeFor = async (who: Session, phone: string, body: object = { phone }): Promise<string> => {
    const before = smsTo(phone).length;
    const sent = await call(t.url, 'POST', VERIFY, { token: who.accessToken, body });
    expect(sent.status).toBe(202);
    expect(sent.body).toEqual({ phone, expiresIn: 600 });
    const sms = await waitFor(async () => smsTo(phone)[before], `the code SMS to ${phone}`, 15_000);
    const code = /^(\d{6}) is your Tickr verification code/.exec(sms.text)?.[1];
    expect(code).toBeDefined();
    return code!;
  };
  const verify = (who: Session, code: string) => call(t.url, 'POST', CHECK, { token: who.accessToken, body: { code } });
  const me = async (who: Session) => (await call(t.url, 'GET', '/v1/me', { token: who.accessToken, expect: 200 })).body;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tickr-sms-'));
    t = await startTestApp({ ...CHEAP_HASHING, SMS_DRIVER: 'file', SMS_FILE_DIR: dir, EMAIL_DRIVER: 'log', OUTBOX_POLL_INTERVAL_MS: '100' });
    db = new Client({ connectionString: t.db.url });
    await db.connect();
    sellable = await sellableEvent(t.url, await organiser(t.url), [{ price: 30_000, capacity: 500 }], { title: 'Sunset Gnawa' });
  });
  afterAll(async () => {
    await db?.end();
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a phone given at registration is unverified and gets no SMS; a code sent on request verifies it; a new number is unverified again', async () => {
    const phone = uniquePhone();
    const buyer = await register(t.url, { role: 'buyer', phone });
    expect(buyer.user).toMatchObject({ phone, phoneVerified: false });
    expect(await me(buyer)).toEqual({ id: buyer.user.id, email: buyer.user.email, name: buyer.user.name, role: 'buyer', phone, phoneVerified: false });
    await settled();
    expect(smsTo(phone)).toEqual([]);

    // Without a body: the number on file.
    const code = await codeFor(buyer, phone, {});
    // Stored as a keyed hash, never as the code; the sent SMS keeps no text.
    const stored = (await db.query(`SELECT phone, code_hash, attempts, expires_at - now() AS ttl FROM phone_verifications WHERE user_id = $1`, [buyer.user.id])).rows;
    expect(stored).toHaveLength(1);
    expect(stored[0].phone).toBe(phone);
    expect(stored[0].code_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(stored[0].code_hash).not.toContain(code);
    expect(stored[0].ttl.minutes ?? 0).toBeGreaterThanOrEqual(9);
    await settled();
    const rows = (await db.query(`SELECT recipient, status, payload FROM outbox WHERE template = 'phone-verification' AND recipient = $1`, [phone])).rows;
    expect(rows).toEqual([{ recipient: phone, status: 'sent', payload: {} }]);

    const verified = await verify(buyer, code);
    expect(verified.status).toBe(200);
    expect(verified.body).toEqual({ ...(await me(buyer)), phoneVerified: true });
    expect((await me(buyer)).phoneVerified).toBe(true);
    // A code is used once.
    expectProblem(await verify(buyer, code), 422, 'CODE_EXPIRED');
    // A verified number needs no code (and costs no SMS).
    expectProblem(await call(t.url, 'POST', VERIFY, { token: buyer.accessToken, body: {} }), 409, 'PHONE_ALREADY_VERIFIED');
    expectProblem(await call(t.url, 'POST', VERIFY, { token: buyer.accessToken, body: { phone } }), 409, 'PHONE_ALREADY_VERIFIED');

    // Changing the number resets the verification.
    const other = uniquePhone();
    const second = await codeFor(buyer, other);
    expect(await me(buyer)).toMatchObject({ phone: other, phoneVerified: false });
    expect((await verify(buyer, second)).body).toMatchObject({ phone: other, phoneVerified: true });
  });

  it('a wrong code is INVALID_CODE and counts; an expired code is CODE_EXPIRED, even when right; a new code replaces the old one', async () => {
    const phone = uniquePhone();
    const buyer = await register(t.url, { role: 'buyer' });
    const code = await codeFor(buyer, phone);
    const wrong = code === '000000' ? '000001' : '000000';
    const res = await verify(buyer, wrong);
    expectProblem(res, 422, 'INVALID_CODE');
    expect(res.body.attemptsLeft).toBe(4);
    expect((await db.query(`SELECT attempts FROM phone_verifications WHERE user_id = $1`, [buyer.user.id])).rows[0].attempts).toBe(1);

    await db.query(`UPDATE phone_verifications SET expires_at = now() - interval '1 second' WHERE user_id = $1`, [buyer.user.id]);
    expectProblem(await verify(buyer, code), 422, 'CODE_EXPIRED');
    expect((await me(buyer)).phoneVerified).toBe(false);

    const first = await codeFor(buyer, phone);
    const latest = await codeFor(buyer, phone);
    if (first !== latest) expectProblem(await verify(buyer, first), 422, 'INVALID_CODE');
    expect((await verify(buyer, latest)).body.phoneVerified).toBe(true);
  });

  it('five wrong guesses kill the code, however many are sent at once; the right code is refused afterwards', async () => {
    const phone = uniquePhone();
    const buyer = await register(t.url, { role: 'buyer' });
    const code = await codeFor(buyer, phone);
    const guesses = Array.from({ length: 12 }, (_, i) => String((Number(code) + 1 + i) % 1_000_000).padStart(6, '0'));
    const answers = await Promise.all(guesses.map((g) => verify(buyer, g)));
    const codes = answers.map((a) => `${a.status} ${a.body.code}`).sort();
    expect(codes.filter((c) => c === '422 INVALID_CODE')).toHaveLength(5);
    expect(codes.filter((c) => c === '422 CODE_EXPIRED')).toHaveLength(7);
    expect(answers.filter((a) => a.body.code === 'INVALID_CODE').map((a) => a.body.attemptsLeft).sort()).toEqual([0, 1, 2, 3, 4]);
    const late = await verify(buyer, code);
    expectProblem(late, 422, 'CODE_EXPIRED');
    expect(late.body.detail).toMatch(/too many wrong attempts/);
    expect((await me(buyer)).phoneVerified).toBe(false);
  });

  it("another account cannot use your code: not without a code of its own, not against its own code for the same number", async () => {
    const phone = uniquePhone();
    const [owner, intruder] = [await register(t.url, { role: 'buyer' }), await register(t.url, { role: 'buyer' })];
    const code = await codeFor(owner, phone);
    expectProblem(await verify(intruder, code), 422, 'CODE_EXPIRED');
    const theirs = await codeFor(intruder, phone);
    if (theirs !== code) expectProblem(await verify(intruder, code), 422, 'INVALID_CODE');
    expect(await me(intruder)).toMatchObject({ phone, phoneVerified: false });
    // The owner's code still works for the owner.
    expect((await verify(owner, code)).body).toMatchObject({ id: owner.user.id, phone, phoneVerified: true });
  });

  it('codes are limited to 3 an hour per account and per number (429 RATE_LIMITED with Retry-After), and a refused request changes nothing', async () => {
    const buyer = await register(t.url, { role: 'buyer' });
    const phones = [uniquePhone(), uniquePhone(), uniquePhone(), uniquePhone()];
    for (const phone of phones.slice(0, 3)) await codeFor(buyer, phone);
    const refused = await call(t.url, 'POST', VERIFY, { token: buyer.accessToken, body: { phone: phones[3] } });
    expectProblem(refused, 429, 'RATE_LIMITED');
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(3_600);
    expect((await me(buyer)).phone).toBe(phones[2]);

    // One number, many accounts: a stranger's phone gets at most 3 codes an hour.
    const victim = uniquePhone();
    const senders = await Promise.all(Array.from({ length: 5 }, () => register(t.url, { role: 'buyer' })));
    const answers = await Promise.all(senders.map((s) => call(t.url, 'POST', VERIFY, { token: s.accessToken, body: { phone: victim } })));
    expect(answers.map((a) => a.status).sort()).toEqual([202, 202, 202, 429, 429]);
    for (const a of answers.filter((x) => x.status === 429)) expectProblem(a, 429, 'RATE_LIMITED');
    const refusedSenders = senders.filter((_, i) => answers[i].status === 429);
    for (const s of refusedSenders) expect((await me(s)).phone).toBeNull();
    await settled();
    expect(smsTo(victim)).toHaveLength(3);
    // A refusal for the number gives the account's slot back: three more refusals later, the
    // account still has its budget for a number of its own (it would have spent 4 of 3 otherwise).
    for (let i = 0; i < 3; i++) {
      expectProblem(await call(t.url, 'POST', VERIFY, { token: refusedSenders[0].accessToken, body: { phone: victim } }), 429, 'RATE_LIMITED');
    }
    await codeFor(refusedSenders[0], uniquePhone());
  });

  it('refuses bad input with 400 and no SMS; without a token, 401', async () => {
    const buyer = await register(t.url, { role: 'buyer' });
    expectFieldError(await call(t.url, 'POST', VERIFY, { token: buyer.accessToken, body: {} }), 'phone');
    for (const phone of ['21612345678', '+0123', '+2161234567890123', 42, '+216 12 345 678']) {
      expectFieldError(await call(t.url, 'POST', VERIFY, { token: buyer.accessToken, body: { phone } }), 'phone');
    }
    for (const code of ['12345', '1234567', 'abcdef', 123456, '12 456']) {
      expectFieldError(await call(t.url, 'POST', CHECK, { token: buyer.accessToken, body: { code } }), 'code');
    }
    expectProblem(await call(t.url, 'POST', VERIFY, { body: { phone: uniquePhone() } }), 401, 'UNAUTHENTICATED');
    expectProblem(await call(t.url, 'POST', CHECK, { body: { code: '123456' } }), 401, 'UNAUTHENTICATED');
    expect((await me(buyer)).phone).toBeNull();
  });

  it('fuzzed: 200 odd requests to both routes are a 4xx problem or a success, and neither limit is passed', async () => {
    const random = prng(Number(process.env.FUZZ_SEED ?? 20_261_202));
    const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)];
    const people = await Promise.all(Array.from({ length: 3 }, () => register(t.url, { role: 'buyer' })));
    // A live code for the first: the fuzz guesses against it.
    const target = uniquePhone();
    const code = await codeFor(people[0], target);
    const oddBody = (field: string, valid: unknown[]) => {
      if (random() < 0.15) return pick(ODD_VALUES);
      return random() < 0.3 ? {} : { [field]: pick([...ODD_VALUES, ...valid]) };
    };
    const oddToken = () => pick([...people.map((p) => p.accessToken), undefined, 'x', 'a.b.c']);
    const jobs = Array.from({ length: 200 }, () =>
      random() < 0.5
        ? { path: VERIFY, body: oddBody('phone', ['+21612345678', target, uniquePhone()]), token: oddToken() }
        : { path: CHECK, body: oddBody('code', ['000000', '123456', code === '999999' ? '999998' : '999999']), token: pick([people[0].accessToken, oddToken()]) },
    );
    const replies: { path: string; token?: string; status: number; code?: string }[] = [];
    for (let i = 0; i < jobs.length; i += 10) {
      const batch = jobs.slice(i, i + 10);
      const answers = await Promise.all(batch.map((j) => call(t.url, 'POST', j.path, { token: j.token, body: j.body })));
      answers.forEach((r, k) => {
        expectClientOutcome(r, `POST ${batch[k].path} ${JSON.stringify(batch[k].body)?.slice(0, 200)}`);
        replies.push({ path: batch[k].path, token: batch[k].token, status: r.status, code: r.body?.code });
      });
    }
    // Never more than 3 codes per account (the first's own one included) nor per number, and
    // never more than 5 wrong guesses per code an account was sent.
    for (const [i, p] of people.entries()) {
      const mine = replies.filter((r) => r.token === p.accessToken);
      const sent = mine.filter((r) => r.path === VERIFY && r.status === 202).length + (i === 0 ? 1 : 0);
      expect(sent).toBeLessThanOrEqual(3);
      expect(mine.filter((r) => r.code === 'INVALID_CODE').length).toBeLessThanOrEqual(5 * sent);
    }
    await settled();
    const perNumber = new Map<string, number>();
    for (const m of droppedMessages<SmsFile>(dir).filter((x) => x.text.includes('verification code'))) perNumber.set(m.to, (perNumber.get(m.to) ?? 0) + 1);
    for (const n of perNumber.values()) expect(n).toBeLessThanOrEqual(3);
  });

  it('the ticket-confirmation SMS goes to a verified phone only: none while unverified, one per order once verified', async () => {
    const phone = uniquePhone();
    const buyer = await register(t.url, { role: 'buyer', phone });
    const before = await paidOrder(t.url, buyer, sellable, 1);
    await settled();
    expect(smsTo(phone)).toEqual([]);
    expect((await db.query(`SELECT channel FROM outbox WHERE cause = $1`, [`order-paid:${before.id}`])).rows).toEqual([{ channel: 'email' }]);

    expect((await verify(buyer, await codeFor(buyer, phone, {}))).status).toBe(200);
    const after = await paidOrder(t.url, buyer, sellable, 2);
    await settled();
    const reference = after.id.replace(/-/g, '').slice(0, 8).toUpperCase();
    const confirmations = smsTo(phone).filter((m) => m.text.includes('Sunset Gnawa'));
    expect(confirmations).toHaveLength(1);
    expect(confirmations[0].text).toContain(reference);
    expect(confirmations[0].text).toContain('2 tickets');
  });
});
