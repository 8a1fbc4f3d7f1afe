import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { DomainError, NotFoundError, RateLimitedError, ValidationFailedError } from '../../common/domain-error';
import { AuthConfig } from '../../config';
import { Sql, Transactions } from '../../database/transaction';
import { RateLimiter } from '../../ports/rate-limiter.port';
import { PhoneVerificationsRepository } from './phone-verifications.repository';
import { User, UsersRepository } from './users.repository';

/** A code lives ten minutes and takes five guesses; a user, and a number, get three codes an hour. */
export const PHONE_CODE_TTL_SECONDS = 600;
export const PHONE_CODE_MAX_ATTEMPTS = 5;
export const PHONE_CODES_PER_HOUR = 3;
const HOUR = 3_600;

export class InvalidCodeError extends DomainError {
  constructor(attemptsLeft: number) {
    super(
      'rule_violation',
      'INVALID_CODE',
      attemptsLeft > 0 ? `The code is wrong; ${attemptsLeft} attempt(s) left.` : 'The code is wrong, and that was the last attempt: request a new code.',
      { attemptsLeft },
    );
  }
}

/** No live code: none was sent, it expired, it took its last wrong guess, or the number changed since. */
export class CodeExpiredError extends DomainError {
  constructor(reason: string) {
    super('rule_violation', 'CODE_EXPIRED', `No live code for this number (${reason}): request a new one.`);
  }
}

export class PhoneAlreadyVerifiedError extends DomainError {
  constructor() {
    super('conflict', 'PHONE_ALREADY_VERIFIED', 'This number is already verified.');
  }
}

/** What the SMS carries; the module that sends messages registers how it is queued. */
export interface PhoneCode {
  userId: string;
  phone: string;
  code: string;
}
export type PhoneCodeStep = (sql: Sql, code: PhoneCode) => Promise<void>;

type Outcome = { kind: 'verified'; user: User } | { kind: 'wrong'; attemptsLeft: number } | { kind: 'dead'; reason: string };

/**
 * Proves a user reads the phone on their account before any SMS is sent to it: a six-digit code by
 * SMS (queued in the outbox in the transaction that stores it), kept only as an HMAC under a key
 * derived from the server secret, compared in constant time. Sending is limited per user and per
 * number (fail-closed counters), so the route cannot flood a stranger's phone or the SMS budget.
 */
@Injectable()
export class PhoneVerificationService {
  private readonly codeSteps: PhoneCodeStep[] = [];
  private readonly key: Buffer;

  constructor(
    private readonly users: UsersRepository,
    private readonly codes: PhoneVerificationsRepository,
    private readonly tx: Transactions,
    private readonly limiter: RateLimiter,
    auth: AuthConfig,
  ) {
    this.key = createHmac('sha256', auth.jwtSecret).update('tickr:phone-verification-codes').digest();
  }

  /** Work that must commit with a new code (its SMS, in the outbox), run in the code's transaction. */
  onCodeIssued(step: PhoneCodeStep): void {
    this.codeSteps.push(step);
  }

  /**
   * Sends a code to `phone` (which becomes the number on file, unverified if it is new) or, without
   * one, to the number on file. Refused before anything changes when the budget is spent.
   */
  async requestCode(userId: string, phone?: string): Promise<{ phone: string; expiresIn: number }> {
    const current = await this.users.findById(this.tx.sql, userId);
    if (!current) throw new NotFoundError('No such user.');
    const target = phone ?? current.phone;
    if (!target) throw new ValidationFailedError([{ field: 'phone', message: 'there is no phone on file: send one' }]);
    if (target === current.phone && current.phoneVerified) throw new PhoneAlreadyVerifiedError();
    await this.spendSendBudget(userId, target);
    const code = randomInt(0, 1_000_000).toString().padStart(6, '0');
    await this.tx.run(async (sql) => {
      const user = await this.users.lockById(sql, userId);
      if (!user) throw new NotFoundError('No such user.');
      if (target === user.phone && user.phoneVerified) throw new PhoneAlreadyVerifiedError();
      if (target !== user.phone) await this.users.setPhone(sql, userId, target);
      await this.codes.replace(sql, userId, target, this.hash(userId, target, code), PHONE_CODE_TTL_SECONDS);
      for (const step of this.codeSteps) await step(sql, { userId, phone: target, code });
    });
    return { phone: target, expiresIn: PHONE_CODE_TTL_SECONDS };
  }

  /** The user with `phoneVerified: true`, or INVALID_CODE (a guess counted) or CODE_EXPIRED. */
  async verify(userId: string, code: string): Promise<User> {
    // The guess is counted in a transaction that commits: the error is thrown after it.
    const outcome = await this.tx.run(async (sql): Promise<Outcome> => {
      const pending = await this.codes.lock(sql, userId);
      if (!pending) return { kind: 'dead', reason: 'none was requested, or it was used' };
      if (pending.expired) return { kind: 'dead', reason: 'it expired' };
      if (pending.attempts >= PHONE_CODE_MAX_ATTEMPTS) return { kind: 'dead', reason: 'too many wrong attempts' };
      if (!this.matches(pending.codeHash, this.hash(userId, pending.phone, code))) {
        await this.codes.countAttempt(sql, userId);
        return { kind: 'wrong', attemptsLeft: PHONE_CODE_MAX_ATTEMPTS - pending.attempts - 1 };
      }
      await this.codes.remove(sql, userId);
      const user = await this.users.markPhoneVerified(sql, userId, pending.phone);
      return user ? { kind: 'verified', user } : { kind: 'dead', reason: 'the number changed' };
    });
    if (outcome.kind === 'wrong') throw new InvalidCodeError(outcome.attemptsLeft);
    if (outcome.kind === 'dead') throw new CodeExpiredError(outcome.reason);
    return outcome.user;
  }

  private async spendSendBudget(userId: string, phone: string): Promise<void> {
    const userKey = `phone-codes:user:${userId}`;
    const byUser = await this.limiter.consume(userKey, PHONE_CODES_PER_HOUR, HOUR);
    if (!byUser.allowed) throw new RateLimitedError(byUser.retryAfterSeconds, 'Too many codes requested for this account; retry later.');
    const byPhone = await this.limiter.consume(`phone-codes:phone:${phone}`, PHONE_CODES_PER_HOUR, HOUR);
    if (!byPhone.allowed) {
      // Nothing is sent: the account's slot is given back.
      await this.limiter.refund(userKey);
      throw new RateLimitedError(byPhone.retryAfterSeconds, 'Too many codes sent to this number; retry later.');
    }
  }

  /** Bound to the user and the number: a code is worth nothing for another account or another number. */
  private hash(userId: string, phone: string, code: string): string {
    return createHmac('sha256', this.key).update(`${userId}\n${phone}\n${code}`).digest('hex');
  }

  private matches(storedHex: string, candidateHex: string): boolean {
    const stored = Buffer.from(storedHex, 'hex');
    const candidate = Buffer.from(candidateHex, 'hex');
    return stored.length === candidate.length && timingSafeEqual(stored, candidate);
  }
}
