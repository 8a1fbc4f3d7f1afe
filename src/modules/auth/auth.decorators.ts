import { applyDecorators, createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth, ApiSecurity } from '@nestjs/swagger';
import type { Role } from '../users/user.model';

export interface AuthenticatedUser {
  id: string;
  role: Role;
  sessionId: string;
  jti: string;
  /** Access token expiry, seconds since the epoch. */
  exp: number;
}

export const IS_PUBLIC = 'tickr:isPublic';
export const ROLES = 'tickr:roles';

/** No token needed; a token that is sent is still checked (so owners see their drafts on public routes). */
export const Public = () =>
  // In the OpenAPI document: no token needed, a bearer token optional.
  applyDecorators(SetMetadata(IS_PUBLIC, true), ApiSecurity({}), ApiBearerAuth());

/** Only these roles may call the route at all; others get 403 FORBIDDEN. */
export const Roles = (...roles: Role[]) => SetMetadata(ROLES, roles);

export const CurrentUser = createParamDecorator((_: unknown, ctx: ExecutionContext): AuthenticatedUser => {
  return ctx.switchToHttp().getRequest<{ user: AuthenticatedUser }>().user;
});
