import { CallHandler, ExecutionContext, Injectable, NestInterceptor, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Observable } from 'rxjs';

const NO_STORE = 'tickr:noStore';

/** The answer carries tokens or personal data although the request carries no credentials (sign-up, login, refresh). */
export const NoStore = () => SetMetadata(NO_STORE, true);

/**
 * `Cache-Control: no-store` on every answer that may carry a token or personal data: routes marked
 * `@NoStore()`, and every request that carries credentials (whatever it reads is the caller's view:
 * orders, tickets, sales, staff, a draft…). Set before the handler, so error answers carry it too.
 * Anonymous reads of the public catalog stay cacheable.
 */
@Injectable()
export class NoStoreInterceptor implements NestInterceptor {
  constructor(private readonly reflector: Reflector) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() === 'http') {
      const http = context.switchToHttp();
      const request = http.getRequest<FastifyRequest>();
      const marked = this.reflector.getAllAndOverride<boolean>(NO_STORE, [context.getHandler(), context.getClass()]);
      if (marked || request.headers.authorization !== undefined) {
        const reply = http.getResponse<FastifyReply>();
        reply.header('cache-control', 'no-store');
        reply.header('pragma', 'no-cache');
      }
    }
    return next.handle();
  }
}
