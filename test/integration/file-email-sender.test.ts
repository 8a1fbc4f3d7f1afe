import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmailFile, FileEmailSender } from '../../src/adapters/local/file-email-sender.adapter';
import { renderEmail } from '../../src/adapters/email/email-templates';
import { EventPublishedData, RefundCompletedData } from '../../src/modules/notifications/notification.model';
import { EmailMessage } from '../../src/ports/email-sender.port';

const event = {
  id: randomUUID(),
  title: 'Rock & Roll Night',
  venueName: 'Le Rio',
  venueCity: 'Tunis',
  venueAddress: '12 Avenue Habib Bourguiba',
  startsAt: '2026-03-14T19:00:00.000Z',
  startsAtLocal: 'Saturday, 14 March 2026 at 20:00 (Africa/Tunis)',
  timezone: 'Africa/Tunis',
};

function refund(): EmailMessage {
  const data: RefundCompletedData = {
    buyerName: 'Amira',
    orderId: randomUUID(),
    orderReference: '3F2A9C4E',
    event,
    amount: 45_000,
    currency: 'TND',
    amountFormatted: '45.000 TND',
    reason: 'event-cancelled',
  };
  return { id: randomUUID(), to: 'amira@example.com', template: 'refund-completed', data: { ...data } };
}

describe('FileEmailSender (a temp folder)', () => {
  let dir: string;
  let sender: FileEmailSender;

  const jsonFiles = async () => (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
  const read = async (name: string) => JSON.parse(await readFile(join(dir, name), 'utf8')) as EmailFile;
  const all = async () => Promise.all((await jsonFiles()).map(read));

  beforeEach(async () => {
    dir = join(await mkdtemp(join(tmpdir(), 'tickr-emails-')), 'emails');
    sender = new FileEmailSender(dir);
  });

  afterEach(async () => {
    await rm(join(dir, '..'), { recursive: true, force: true });
  });

  it('writes one JSON file per e-mail, with the contract keys and the rendered e-mail', async () => {
    const message = refund();
    const before = Date.now();
    await sender.send(message);

    const files = await readdir(dir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(new RegExp(`^${message.id}-\\d+-[0-9a-f]{8}\\.json$`));
    const file = await read(files[0]);
    expect(Object.keys(file).sort()).toEqual(['data', 'html', 'id', 'sentAt', 'subject', 'template', 'text', 'to']);
    expect(file).toMatchObject({ id: message.id, to: message.to, template: 'refund-completed', data: message.data });
    expect(Date.parse(file.sentAt)).toBeGreaterThanOrEqual(before - 1);
    expect(file.subject).toBe('Your refund for Rock & Roll Night (order 3F2A9C4E)');
    expect({ subject: file.subject, html: file.html, text: file.text }).toEqual(renderEmail('refund-completed', message.data));
    expect(file.html).toContain('Rock &amp; Roll Night');
    expect(file.text).toContain('The organiser has cancelled this event');
  });

  it('keeps a repeated delivery of one message as a second file with the same id', async () => {
    const message = refund();
    const other = refund();
    await sender.send(message);
    await sender.send(other);
    await sender.send(message);

    const files = await all();
    expect(files).toHaveLength(3);
    expect(files.filter((f) => f.id === message.id)).toHaveLength(2);
    expect(files.filter((f) => f.id === other.id)).toHaveLength(1);
  });

  it('loses no file when the same message is sent many times at once', async () => {
    const message = refund();
    await Promise.all(Array.from({ length: 20 }, () => sender.send(message)));

    const files = await all();
    expect(files).toHaveLength(20);
    expect(new Set(files.map((f) => f.id))).toEqual(new Set([message.id]));
    expect(await readdir(dir)).toHaveLength(20);
  });

  // A race, so a regression to a plain write is caught often rather than always; it never fails spuriously.
  it('never shows a reader a half-written file: every *.json present parses, even while writing', async () => {
    const published: EventPublishedData = {
      organiserName: 'Org',
      event,
      // A big body, so that a write is not a single syscall.
      ticketTypes: Array.from({ length: 2_000 }, (_, i) => ({ name: `Type ${i}`, priceFormatted: '10.000 TND', capacity: i })),
    };
    const message: EmailMessage = { id: randomUUID(), to: 'org@example.com', template: 'event-published', data: { ...published } };
    let writing = true;
    const writes = Promise.all(Array.from({ length: 20 }, () => sender.send(message))).finally(() => (writing = false));
    let reads = 0;
    while (writing) {
      for (const name of await jsonFiles().catch(() => [])) {
        const file = await read(name);
        expect(file.id).toBe(message.id);
        reads++;
      }
      await new Promise((r) => setImmediate(r));
    }
    await writes;
    expect((await all()).length).toBe(20);
  });

  it('creates its folder on first use', async () => {
    await expect(readdir(dir)).rejects.toMatchObject({ code: 'ENOENT' });
    await sender.send(refund());
    expect(await jsonFiles()).toHaveLength(1);
  });
});
