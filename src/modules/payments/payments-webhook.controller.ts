import { Controller, Headers, HttpCode, Logger, Post, Req } from '@nestjs/common';
import { ApiHeader, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { SkipThrottle } from '@nestjs/throttler';
import type { FastifyRequest } from 'fastify';
import { RateLimitedError } from '../../common/domain-error';
import { ApiProblems } from '../../common/openapi';
import { RateLimiter } from '../../ports/rate-limiter.port';
import { Public } from '../auth/auth.decorators';
import { ProviderEventsService } from './provider-events.service';
import { rawBodyOf } from './raw-webhook-body';

/**
 * Deliveries a minute one source address may make. Stripe retries and bursts (an on-sale settles
 * thousands of payments in minutes), so far above the per-caller limit; but not unlimited, since the
 * route is public and every delivery costs a signature check.
 */
export const WEBHOOK_DELIVERIES_PER_IP_PER_MINUTE = 6_000;

/** The payment provider's webhook: public (the signature authenticates it), outside the per-caller limit. */
@ApiTags('payments')
@Public()
@SkipThrottle()
@Controller('payments')
export class PaymentsWebhookController {
  private readonly logger = new Logger('PaymentsWebhook');

  constructor(
    private readonly providerEvents: ProviderEventsService,
    private readonly limiter: RateLimiter,
  ) {}

  @Post('stripe/webhook')
  @HttpCode(200)
  @ApiOperation({
    summary: "Stripe's events, signed in Stripe-Signature",
    description: 'Each event id is processed at most once, in any order and however often delivered; types it does not act on are acknowledged.',
  })
  @ApiHeader({ name: 'Stripe-Signature', required: true })
  @ApiOkResponse({ schema: { example: { received: true } } })
  @ApiProblems([400, 'INVALID_SIGNATURE'], 429)
  async stripe(@Req() request: FastifyRequest, @Headers('stripe-signature') signature: string | undefined): Promise<{ received: true }> {
    await this.limit(request.ip);
    const event = this.providerEvents.verify(rawBodyOf(request), signature);
    await this.providerEvents.process(event);
    return { received: true };
  }

  private async limit(ip: string): Promise<void> {
    let decision;
    try {
      decision = await this.limiter.consume(`payments-webhook:ip:${ip}`, WEBHOOK_DELIVERIES_PER_IP_PER_MINUTE, 60);
    } catch (error) {
      // As every rate limit here, it fails open: a Redis outage must not drop the provider's events.
      this.logger.warn({ err: error }, 'webhook rate limit unavailable; allowing the delivery');
      return;
    }
    if (!decision.allowed) throw new RateLimitedError(decision.retryAfterSeconds);
  }
}
