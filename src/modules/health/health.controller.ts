import { Controller, Get, HttpCode, Logger } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
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
 * Readiness says ready or not, nothing more: which dependency failed and why goes to the log, since
 * a public answer naming it would tell an attacker which part to push on.
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
  @ApiOperation({ summary: 'Readiness: Postgres answers and the instance is not shutting down (no detail: that goes to the log)' })
  @ApiOkResponse({
    description: 'Postgres answers (Redis does not decide: without it the app runs degraded)',
    schema: { type: 'object', required: ['status'], properties: { status: { type: 'string', enum: ['ok'] } } },
  })
  @ApiProblems([503, 'SERVICE_UNAVAILABLE'])
  async ready(): Promise<{ status: 'ok' }> {
    if (this.shutdown.isDraining) throw new NotReadyError();
    // Redis does not decide readiness: without it the app runs degraded (see the README), and a
    // balancer that took every instance out for a Redis blip would turn a degraded service into none.
    const [postgres, redis] = await Promise.all([
      this.postgresDown(),
      this.redis.probe(1_500),
    ]);
    if ('reachable' in redis && !redis.reachable && this.degradedLog.take() !== undefined) {
      this.logger.warn({ redis }, 'Redis unreachable: running degraded');
    }
    if (postgres) {
      const heldBack = this.notReadyLog.take();
      if (heldBack !== undefined) this.logger.warn({ postgres: postgres.message, cause: postgres.cause, heldBack }, 'not ready: Postgres does not answer');
      throw new NotReadyError();
    }
    return { status: 'ok' };
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
