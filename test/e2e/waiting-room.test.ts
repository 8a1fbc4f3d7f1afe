import { randomUUID } from 'node:crypto';
import { AdmissionTokens } from '../../src/modules/waiting-room/admission-token';
import { startTestApp, TestApp } from '../support/app';
import { call, Session } from '../support/http';
import { buyers, organiser, sellableEvent } from '../support/orders';
import { CHEAP_HASHING, expectProblem } from '../support/problems';
import { admissionOf, join, orderWithAdmission, queueStatus, soon, waitingRoomEvent } from '../support/waiting-room';

/** The contract's "On-sale fairness" waiting-room rows, on one instance against real Postgres and Redis. */
describe('waiting room', () => {
  let t: TestApp;
  let owner: Session;
  let alice: Session;
  let bob: Session;
  let carol: Session;
  beforeAll(async () => {
    t = await startTestApp({ ...CHEAP_HASHING, WAITING_ROOM_ADMIT_INTERVAL_MS: '50', WAITING_ROOM_STREAM_POLL_MS: '100' });
    owner = await organiser(t.url);
    [alice, bob, carol] = await buyers(t.url, 3);
  }, 60_000);
  afterAll(() => t?.close());

  const available = async (eventId: string) =>
    (await call(t.url, 'GET', `/v1/events/${eventId}`)).body.ticketTypes[0].available as number;

  it('is off by default, set by the owner with PATCH and shown on the event; bad settings are 400', async () => {
    const ev = await sellableEvent(t.url, owner);
    expect((await call(t.url, 'GET', `/v1/events/${ev.eventId}`)).body.waitingRoom).toEqual({ enabled: false, admitPerMinute: 600 });
    const on = await call(t.url, 'PATCH', `/v1/events/${ev.eventId}`, { token: owner.accessToken, body: { waitingRoom: { enabled: true, admitPerMinute: 120 } } });
    expect(on.status).toBe(200);
    expect(on.body.waitingRoom).toEqual({ enabled: true, admitPerMinute: 120 });
    expect((await call(t.url, 'GET', `/v1/events/${ev.eventId}`)).body.waitingRoom).toEqual({ enabled: true, admitPerMinute: 120 });
    for (const waitingRoom of [{ enabled: true, admitPerMinute: 0 }, { enabled: 'yes' }, { admitPerMinute: 10 }, { enabled: true, admitPerMinute: 1.5 }]) {
      const res = await call(t.url, 'PATCH', `/v1/events/${ev.eventId}`, { token: owner.accessToken, body: { waitingRoom } });
      expectProblem(res, 400, 'VALIDATION_FAILED');
      expect(res.body.errors.map((e: { field: string }) => e.field).join()).toMatch(/^waitingRoom/);
    }
    const other = await organiser(t.url);
    expectProblem(await call(t.url, 'PATCH', `/v1/events/${ev.eventId}`, { token: other.accessToken, body: { waitingRoom: { enabled: false } } }), 404);
  });

  it('POST /queue: 201 an entry, 200 the same one again; 409 NO_WAITING_ROOM without a room; 404 for an unknown event', async () => {
    const plain = await sellableEvent(t.url, owner);
    expectProblem(await join(t.url, alice, plain.eventId), 409, 'NO_WAITING_ROOM');
    expectProblem(await join(t.url, alice, randomUUID()), 404);

    const ev = await waitingRoomEvent(t.url, owner, 60, soon(3600));
    const first = await join(t.url, alice, ev.eventId);
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ queueId: expect.any(String), position: null, admitted: false });
    expect(first.body.estimatedWaitSeconds).toBeGreaterThan(3500);
    const again = await join(t.url, alice, ev.eventId);
    expect(again.status).toBe(200);
    expect(again.body.queueId).toBe(first.body.queueId);

    const mine = await queueStatus(t.url, alice, ev.eventId, first.body.queueId);
    expect(mine.status).toBe(200);
    expect(mine.body).toMatchObject({ queueId: first.body.queueId, position: null, admitted: false, admissionToken: null, admissionExpiresAt: null });
    // Someone else's entry, or an unknown one, is a 404.
    expectProblem(await queueStatus(t.url, bob, ev.eventId, first.body.queueId), 404);
    expectProblem(await queueStatus(t.url, alice, ev.eventId, randomUUID()), 404);
    expectProblem(await call(t.url, 'GET', `/v1/events/${ev.eventId}/queue/${first.body.queueId}/stream`, { token: bob.accessToken }), 404);
  });

  it('POST /v1/orders needs the buyer\'s admission for that event: missing, forged, expired, another buyer\'s or event\'s → 403, nothing held', async () => {
    const ev = await waitingRoomEvent(t.url, owner, 6_000);
    const elsewhere = await waitingRoomEvent(t.url, owner, 6_000);
    const aliceEntry = (await join(t.url, alice, ev.eventId)).body.queueId;
    const bobEntry = (await join(t.url, bob, ev.eventId)).body.queueId;
    const token = await admissionOf(t.url, alice, ev.eventId, aliceEntry);
    const bobsToken = await admissionOf(t.url, bob, ev.eventId, bobEntry);
    const otherEvents = await admissionOf(t.url, alice, elsewhere.eventId, (await join(t.url, alice, elsewhere.eventId)).body.queueId);
    const status = await queueStatus(t.url, alice, ev.eventId, aliceEntry);
    expect(status.body).toMatchObject({ admitted: true, position: null, admissionToken: token });
    expect(Date.parse(status.body.admissionExpiresAt) - Date.now()).toBeGreaterThan(590_000);

    const signer = new AdmissionTokens(t.config.auth.jwtSecret);
    const expired = signer.sign({ eventId: ev.eventId, buyerId: alice.user.id, expiresAt: Math.floor(Date.now() / 1000) - 1 });
    const [body, mac] = token.split('.');
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString());
    const forged = `${Buffer.from(JSON.stringify({ ...claims, x: claims.x + 86_400 })).toString('base64url')}.${mac}`;
    const selfSigned = new AdmissionTokens('a-guessed-secret-of-at-least-32-bytes!!').sign({ eventId: ev.eventId, buyerId: alice.user.id, expiresAt: claims.x });

    const key = randomUUID();
    for (const attempt of [undefined, '', 'junk', forged, selfSigned, expired, bobsToken, otherEvents]) {
      expectProblem(await orderWithAdmission(t.url, alice, ev, attempt, key), 403, 'ADMISSION_REQUIRED');
    }
    expect(await available(ev.eventId)).toBe(100);
    expect((await call(t.url, 'GET', '/v1/orders', { token: alice.accessToken })).body.items).toHaveLength(0);

    // The same key with a valid admission is a first answer: the refusals stored nothing.
    const placed = await orderWithAdmission(t.url, alice, ev, token, key);
    expect(placed.status).toBe(201);
    expect(await available(ev.eventId)).toBe(99);
    // An event without a waiting room needs no admission.
    const plain = await sellableEvent(t.url, owner);
    expect((await orderWithAdmission(t.url, alice, plain, undefined)).status).toBe(201);
  });

  it('the stream sends position events, then the admitted event with the token', async () => {
    const ev = await waitingRoomEvent(t.url, owner, 60, soon(2));
    const ahead = await buyers(t.url, 2, 'ahead');
    for (const b of ahead) await join(t.url, b, ev.eventId);
    const entry = (await join(t.url, carol, ev.eventId)).body.queueId;
    const res = await fetch(`${t.url}/v1/events/${ev.eventId}/queue/${entry}/stream`, { headers: { authorization: `Bearer ${carol.accessToken}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const deadline = Date.now() + 15_000;
    while (!text.includes('event: admitted') && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value);
    }
    await reader.cancel().catch(() => undefined);
    const events = text.split('\n\n').filter((b) => b.startsWith('event:')).map((b) => ({
      name: /^event: (.+)$/m.exec(b)![1],
      data: JSON.parse(/^data: (.+)$/m.exec(b)![1]),
    }));
    const positions = events.filter((e) => e.name === 'position').map((e) => e.data.position);
    expect(positions[0]).toBeNull(); // before the opening: no place yet
    expect(positions.filter((p) => p !== null).length).toBeGreaterThan(0); // then its place, moving up
    const admitted = events.find((e) => e.name === 'admitted')!;
    expect(admitted.data.admissionToken).toBe((await queueStatus(t.url, carol, ev.eventId, entry)).body.admissionToken);
    expect((await orderWithAdmission(t.url, carol, ev, admitted.data.admissionToken)).status).toBe(201);
  }, 30_000);

  it('the sales report shows the on-sale: queue, admitted, rate, holds and sales per minute', async () => {
    const ev = await waitingRoomEvent(t.url, owner, 60, soon(3600));
    const queued = await buyers(t.url, 3, 'report');
    for (const b of queued) await join(t.url, b, ev.eventId);
    const res = await call(t.url, 'GET', `/v1/events/${ev.eventId}/sales`, { token: owner.accessToken });
    expect(res.status).toBe(200);
    expect(res.body.onSale).toEqual({ waitingRoom: true, queueLength: 3, admitted: 0, admitPerMinute: 60, holdsPerMinute: 0, salesPerMinute: 0 });

    const open = await waitingRoomEvent(t.url, owner, 6_000);
    const token = await admissionOf(t.url, bob, open.eventId, (await join(t.url, bob, open.eventId)).body.queueId);
    const held = await orderWithAdmission(t.url, bob, open, token);
    expect((await call(t.url, 'POST', `/v1/orders/${held.body.id}/pay`, { token: bob.accessToken, body: { paymentToken: 'tok_visa' } })).status).toBe(200);
    const after = await call(t.url, 'GET', `/v1/events/${open.eventId}/sales`, { token: owner.accessToken });
    expect(after.body.onSale).toEqual({ waitingRoom: true, queueLength: 0, admitted: 1, admitPerMinute: 6_000, holdsPerMinute: 1, salesPerMinute: 1 });
  });
});
