/** Revoked access tokens (by `jti`) and revoked logins (by session id), honoured by every instance. */
export abstract class TokenBlacklist {
  abstract revokeToken(jti: string, ttlSeconds: number): Promise<void>;
  abstract revokeSession(sessionId: string, ttlSeconds: number): Promise<void>;
  /** True when either the token or the login it belongs to was revoked. */
  abstract isRevoked(jti: string, sessionId: string): Promise<boolean>;
}
