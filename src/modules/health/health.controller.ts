import { Controller, Get, HttpCode } from '@nestjs/common';
import { ApiOkResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { SkipThrottle } from '@nestjs/throttler';
import { RedisHealth } from '../../ports/redis-health.port';
import { Public } from '../auth/auth.decorators';
import { ShutdownState } from '../../common/shutdown-state';

/** Infrastructure probes: public, never rate limited (the load balancer must always get an answer). */
@ApiTags('health')
@Public()
@SkipThrottle()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly indicators: HealthIndicatorService,
    private readonly redis: RedisHealth,
    private readonly shutdown: ShutdownState,
  ) {}

  /** Liveness: touches no dependency. */
  @Get()
  @HttpCode(200)
  @ApiOkResponse({ schema: { example: { status: 'ok' } } })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @HealthCheck()
  @ApiOkResponse({ description: 'Postgres answers (Redis is reported, `reachable`, but does not decide: without it the app runs degraded)' })
  @ApiServiceUnavailableResponse({ description: 'Postgres does not answer, or the instance is shutting down' })
  ready() {
    return this.health.check([
      async () => {
        const check = this.indicators.check('lifecycle');
        return this.shutdown.isDraining ? check.down({ message: 'shutting down' }) : check.up();
      },
      () => this.db.pingCheck('postgres', { timeout: 1_500 }),
      // Redis does not decide readiness: without it the app runs degraded (rate limits and token
      // revocation fail open, the cache falls through to Postgres), and a balancer that took every
      // instance out for a Redis blip (and ECS, replacing every task at once) would turn a degraded
      // service into no service. Readiness reports it, as `reachable` (the probe never throws).
      async () => {
        const report: Record<string, unknown> = await this.redis.probe(1_500);
        return this.indicators.check('redis').up(report);
      },
    ]);
  }
}
