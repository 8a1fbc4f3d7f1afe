import { createHmac, timingSafeEqual } from 'node:crypto';

/** What an admission token vouches for. */
export interface AdmissionClaims {
  eventId: string;
  buyerId: string;
  /** Seconds since the epoch. */
  expiresAt: number;
}

/**
 * Admission tokens: `base64url(claims).base64url(HMAC-SHA256)`, under a key derived from the
 * configured secret with a label of its own, so neither an access token nor any other HMAC of that
 * secret passes as one. Stateless: any instance verifies what any instance issued.
 */
export class AdmissionTokens {
  private readonly key: Buffer;

  constructor(secret: string) {
    this.key = createHmac('sha256', secret).update('tickr admission token v1').digest();
  }

  sign(claims: AdmissionClaims): string {
    const body = Buffer.from(JSON.stringify({ e: claims.eventId, b: claims.buyerId, x: claims.expiresAt })).toString('base64url');
    return `${body}.${this.mac(body)}`;
  }

  /** The claims of a well-signed token, or undefined; expiry is the caller's to judge. */
  verify(token: string): AdmissionClaims | undefined {
    const [body, mac, extra] = token.split('.');
    if (!body || !mac || extra !== undefined) return undefined;
    const expected = Buffer.from(this.mac(body));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    try {
      const c = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as { e?: unknown; b?: unknown; x?: unknown };
      if (typeof c.e !== 'string' || typeof c.b !== 'string' || typeof c.x !== 'number') return undefined;
      return { eventId: c.e, buyerId: c.b, expiresAt: c.x };
    } catch {
      return undefined;
    }
  }

  private mac(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }
}
