import { applyDecorators, CanActivate, ExecutionContext, Injectable, SetMetadata, UseGuards } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { RateLimitedError } from '../../common/domain-error';
import { RateLimitConfig } from '../../config';
import { RateLimiter } from '../../ports/rate-limiter.port';
import type { AuthenticatedUser } from './auth.decorators';

/**
 * Budgets beyond the per-caller minute (CallerThrottlerGuard), for what an attacker repeats:
 * creating accounts (each one a fresh per-user budget) and trying cards. Counted through the
 * RateLimiter port, so they hold across instances, and fall back to Postgres while Redis is down.
 */
export type RequestBudget = 'registration' | 'payment';

const BUDGETS = 'tickr:requestBudgets';
const PER_CLIENT_IP = 'tickr:limitPerClientIp';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HOUR = 3_600;
/** An order is payable for its hold only (HOLD_TTL_SECONDS, at most a day): a day covers every attempt on it. */
const ORDER_WINDOW = 86_400;

/**
 * The per-minute limit of this route counts the client IP whatever token the request carries: a
 * public auth route must not let a throwaway account's token buy a fresh budget.
 */
export const LimitPerClientIp = () => SetMetadata(PER_CLIENT_IP, true);

export function isLimitedPerClientIp(reflector: Reflector, context: ExecutionContext): boolean {
  return reflector.getAllAndOverride<boolean>(PER_CLIENT_IP, [context.getHandler(), context.getClass()]) === true;
}

/** Every call of the route takes a slot of each budget named (refused ones too: that is what is being guessed). */
export const Budgeted = (...budgets: RequestBudget[]) => applyDecorators(SetMetadata(BUDGETS, budgets), UseGuards(RequestBudgetGuard));

interface BudgetedRequest {
  ip: string;
  user?: AuthenticatedUser;
  params?: Record<string, string | undefined>;
}

interface Slot {
  key: string;
  limit: number;
  windowSeconds: number;
}

@Injectable()
export class RequestBudgetGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly config: RateLimitConfig,
    private readonly limiter: RateLimiter,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const budgets = this.reflector.get<RequestBudget[] | undefined>(BUDGETS, context.getHandler()) ?? [];
    const request = context.switchToHttp().getRequest<BudgetedRequest>();
    const slots = budgets.flatMap((budget) => this.slotsOf(budget, request));
    const decisions = await Promise.all(slots.map((s) => this.limiter.consume(s.key, s.limit, s.windowSeconds)));
    const refused = decisions.filter((d) => !d.allowed);
    if (refused.length > 0) throw new RateLimitedError(Math.max(...refused.map((d) => d.retryAfterSeconds)));
    return true;
  }

  private slotsOf(budget: RequestBudget, request: BudgetedRequest): Slot[] {
    switch (budget) {
      case 'registration':
        return [{ key: `registrations:ip:${request.ip}`, limit: this.config.registrationsPerIpPerHour, windowSeconds: HOUR }];
      case 'payment': {
        // After authentication (a route guard runs after the global ones): the buyer is known.
        const buyer = request.user?.id ?? `ip:${request.ip}`;
        const slots = [{ key: `payments:buyer:${buyer}`, limit: this.config.paymentAttemptsPerBuyerPerHour, windowSeconds: HOUR }];
        const orderId = request.params?.id;
        // A malformed id is refused 400 by the route's pipe; it gets no per-order counter of its own.
        if (orderId && UUID.test(orderId)) {
          slots.push({ key: `payments:order:${buyer}:${orderId.toLowerCase()}`, limit: this.config.paymentAttemptsPerOrder, windowSeconds: ORDER_WINDOW });
        }
        return slots;
      }
    }
  }
}
