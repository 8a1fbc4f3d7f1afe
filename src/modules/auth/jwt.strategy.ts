import { createSecretKey } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { UnauthenticatedError } from '../../common/domain-error';
import { AuthConfig } from '../../config';
import { ROLES as ALL_ROLES, Role } from '../users/user.model';
import type { AuthenticatedUser } from './auth.decorators';
import { Sessions } from './sessions.service';

interface AccessTokenClaims {
  sub?: unknown;
  role?: unknown;
  sid?: unknown;
  jti?: unknown;
  exp?: unknown;
}

/** Verifies HS256 access tokens only (the algorithm is pinned: `alg: none` and RS/HS confusion fail). */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(
    auth: AuthConfig,
    private readonly sessions: Sessions,
  ) {
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      // A KeyObject: see AuthModule (a string is re-parsed as a PEM key on every verify). passport-jwt
      // hands it to jsonwebtoken.verify unchanged; only its type declaration predates KeyObject.
      secretOrKey: createSecretKey(Buffer.from(auth.jwtSecret)) as unknown as Buffer,
      algorithms: ['HS256'],
      issuer: auth.issuer,
      audience: auth.audience,
      ignoreExpiration: false,
    });
  }

  async validate(claims: AccessTokenClaims): Promise<AuthenticatedUser> {
    const { sub, role, sid, jti, exp } = claims;
    if (
      typeof sub !== 'string' ||
      typeof sid !== 'string' ||
      typeof jti !== 'string' ||
      typeof exp !== 'number' ||
      !ALL_ROLES.includes(role as Role)
    ) {
      throw new UnauthenticatedError('The access token is malformed.');
    }
    // Postgres answers while Redis cannot (fail-closed, see Sessions.isRevoked).
    if (await this.sessions.isRevoked(jti, sid)) throw new UnauthenticatedError('The access token has been revoked.');
    return { id: sub, role: role as Role, sessionId: sid, jti, exp };
  }
}
