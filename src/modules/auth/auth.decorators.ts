import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
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
export const Public = () => SetMetadata(IS_PUBLIC, true);

/** Only these roles may call the route at all; others get 403 FORBIDDEN. */
export const Roles = (...roles: Role[]) => SetMetadata(ROLES, roles);

export const CurrentUser = createParamDecorator((_: unknown, ctx: ExecutionContext): AuthenticatedUser => {
  return ctx.switchToHttp().getRequest<{ user: AuthenticatedUser }>().user;
});
