import { ArgumentsHost, Catch, ExceptionFilter, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { toProblem, toProblemDocument } from './problem';
import { activeTraceIds } from './tracing';

/** The one place where anything thrown becomes an RFC 9457 problem document. */
@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const reply = ctx.getResponse<FastifyReply>();
    const request = ctx.getRequest<FastifyRequest>();
    const problem = toProblem(exception);
    if (problem.status >= 500) {
      this.logger.error({ err: exception, requestId: request.id }, 'unhandled error');
    }
    if (reply.sent) return;
    if (problem.retryAfterSeconds !== undefined) reply.header('retry-after', String(problem.retryAfterSeconds));
    reply
      .status(problem.status)
      .header('content-type', 'application/problem+json; charset=utf-8')
      .send(JSON.stringify(withTraceId(toProblemDocument(problem, String(request.id)))));
  }
}

/** A `traceId` extension when the request is traced, so a buyer's error report leads to its trace. */
function withTraceId<T extends object>(document: T): T & { traceId?: string } {
  const ids = activeTraceIds();
  return ids ? { ...document, traceId: ids.traceId } : document;
}
