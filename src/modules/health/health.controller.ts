import { Controller, Get, HttpCode, Logger } from '@nestjs/common';
import { ApiExcludeEndpoint, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { TypeOrmHealthIndicator } from '@nestjs/terminus';
import { SkipThrottle } from '@nestjs/throttler';
import { DomainError } from '../../common/domain-error';
import { LogThrottle } from '../../common/log-throttle';
import { RedisHealth } from '../../ports/redis-health.port';
import { Public } from '../auth/auth.decorators';
import { ApiProblems } from '../../common/openapi';
import { ShutdownState } from '../../common/shutdown-state';

class NotReadyError extends DomainError {
  constructor() {
    super('unavailable', 'SERVICE_UNAVAILABLE', 'Not ready.', { retryAfterSeconds: 1 });
  }
}

/**
 * Infrastructure probes: public, never rate limited (the load balancer must always get an answer).
 * Readiness and the balancer's check say ready or not, nothing more: which dependency failed and why
 * goes to the log, since a public answer naming it would tell an attacker which part to push on.
 */
@ApiTags('health')
@Public()
@SkipThrottle()
@Controller('health')
export class HealthController {
  private readonly logger = new Logger('Readiness');
  private readonly notReadyLog = new LogThrottle();
  private readonly degradedLog = new LogThrottle();

  constructor(
    private readonly db: TypeOrmHealthIndicator,
    private readonly redis: RedisHealth,
    private readonly shutdown: ShutdownState,
  ) {}

  /** Liveness: touches no dependency. */
  @Get()
  @ApiOperation({ summary: 'Liveness: the process answers' })
  @HttpCode(200)
  @ApiOkResponse({ schema: { example: { status: 'ok' } } })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @HttpCode(200)
  @ApiOperation({ summary: 'Readiness: Postgres and Redis answer and the instance is not shutting down (no detail: that goes to the log)' })
  @ApiOkResponse({
    description: 'Postgres and Redis answer (without Redis configured, its in-process stand-ins serve)',
    schema: { type: 'object', required: ['status'], properties: { status: { type: 'string', enum: ['ok'] } } },
  })
  @ApiProblems([503, 'SERVICE_UNAVAILABLE'])
  async ready(): Promise<{ status: 'ok' }> {
    await this.refuseUnless({ redisDecides: true });
    return { status: 'ok' };
  }

  /**
   * The balancer's check: readiness without Redis. Without Redis the app serves degraded (see the
   * README); a balancer that took every instance out for a Redis blip, and ECS replacing every task
   * that failed its check, would turn a degraded service into none. Not part of the client API.
   */
  @Get('serving')
  @HttpCode(200)
  @ApiExcludeEndpoint()
  async serving(): Promise<{ status: 'ok' }> {
    await this.refuseUnless({ redisDecides: false });
    return { status: 'ok' };
  }

  /** Throws NotReadyError while draining, when Postgres does not answer, and (if it decides) when Redis does not. */
  private async refuseUnless({ redisDecides }: { redisDecides: boolean }): Promise<void> {
    if (this.shutdown.isDraining) throw new NotReadyError();
    const [postgres, redis] = await Promise.all([this.postgresDown(), this.redis.probe(1_500)]);
    const redisDown = 'reachable' in redis && !redis.reachable;
    if (postgres) {
      const heldBack = this.notReadyLog.take();
      if (heldBack !== undefined) this.logger.warn({ postgres: postgres.message, cause: postgres.cause, heldBack }, 'not ready: Postgres does not answer');
      throw new NotReadyError();
    }
    if (redisDown && this.degradedLog.take() !== undefined) this.logger.warn({ redis }, 'Redis unreachable: not ready, serving degraded');
    if (redisDown && redisDecides) throw new NotReadyError();
  }

  /**
   * Why Postgres does not answer, or undefined when it does. Terminus 11 reports a failed ping as a
   * `down` result rather than by throwing: both are read.
   */
  private async postgresDown(): Promise<Error | undefined> {
    try {
      const result = await this.db.pingCheck('postgres', { timeout: 1_500 });
      const check = result.postgres as { status?: string; message?: string } | undefined;
      return check?.status === 'up' ? undefined : new Error(check?.message ?? 'Postgres ping reported down');
    } catch (error) {
      return error as Error;
    }
  }
}
