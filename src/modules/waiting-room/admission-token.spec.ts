import { AdmissionTokens } from './admission-token';

describe('AdmissionTokens', () => {
  const tokens = new AdmissionTokens('a-secret-of-at-least-thirty-two-bytes-long');
  const claims = { eventId: 'e1', buyerId: 'b1', expiresAt: 1_900_000_000 };

  it('verifies what it signed', () => {
    expect(tokens.verify(tokens.sign(claims))).toEqual(claims);
  });

  it('refuses a token whose claims were changed, or signed with another secret, or malformed', () => {
    const [, mac] = tokens.sign(claims).split('.');
    const forgedBody = Buffer.from(JSON.stringify({ e: 'e1', b: 'b2', x: 1_900_000_000 })).toString('base64url');
    expect(tokens.verify(`${forgedBody}.${mac}`)).toBeUndefined();
    expect(tokens.verify(new AdmissionTokens('another-secret-of-at-least-thirty-two-bytes').sign(claims))).toBeUndefined();
    for (const junk of ['', '.', 'a.b.c', 'x.y', `${forgedBody}.`]) expect(tokens.verify(junk)).toBeUndefined();
  });
});
