import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskObjectStorage } from '../../src/adapters/local/disk-object-storage.adapter';

describe('DiskObjectStorage (a temp folder)', () => {
  let parent: string;
  let root: string;
  let storage: DiskObjectStorage;

  beforeEach(async () => {
    parent = await mkdtemp(join(tmpdir(), 'tickr-disk-storage-'));
    root = join(parent, 'uploads');
    storage = new DiskObjectStorage(root, 'http://localhost:3000/');
  });

  afterEach(async () => {
    await rm(parent, { recursive: true, force: true });
  });

  it('stores the bytes under the root, creating the folders of the key', async () => {
    const body = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46]);
    const stored = await storage.put('events/42/cover.jpg', body, 'image/jpeg');

    expect(stored).toEqual({ key: 'events/42/cover.jpg', contentType: 'image/jpeg', size: 8 });
    expect(await readFile(join(root, 'events', '42', 'cover.jpg'))).toEqual(body);
  });

  it('replaces an object put again under the same key', async () => {
    await storage.put('events/1/a.png', Buffer.from('a much longer first version'), 'image/png');
    const stored = await storage.put('events/1/a.png', Buffer.from('second'), 'image/png');

    expect(stored.size).toBe(6);
    expect((await readFile(join(root, 'events', '1', 'a.png'))).toString()).toBe('second');
  });

  it('deletes an object, and deleting a missing key is fine', async () => {
    await storage.put('events/1/a.png', Buffer.from('x'), 'image/png');
    await storage.delete('events/1/a.png');

    await expect(stat(join(root, 'events', '1', 'a.png'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(storage.delete('events/1/a.png')).resolves.toBeUndefined();
    await expect(storage.delete('never/stored.png')).resolves.toBeUndefined();
  });

  it('is served back by the app at <baseUrl>/files/<key>', async () => {
    expect(await storage.publicUrl('events/42/cover.jpg')).toBe('http://localhost:3000/files/events/42/cover.jpg');
    const noSlash = new DiskObjectStorage(root, 'https://api.tickr.example');
    expect(await noSlash.publicUrl('events/42/cover.jpg')).toBe('https://api.tickr.example/files/events/42/cover.jpg');
  });

  it.each(['../escaped.png', 'events/../../escaped.png', '/etc/passwd', '', '.', 'events/..'])(
    'refuses the key %j, which does not name a file inside the root',
    async (key) => {
      await expect(storage.put(key, Buffer.from('x'), 'image/png')).rejects.toThrow(/escapes the storage root/);
      await expect(storage.delete(key)).rejects.toThrow(/escapes the storage root/);
      expect(await readdir(parent)).toEqual([]);
    },
  );

  it('refuses an absolute key even when it points beside the root', async () => {
    await expect(storage.put(join(parent, 'escaped.png'), Buffer.from('x'), 'image/png')).rejects.toThrow(/escapes the storage root/);
    expect(await readdir(parent)).toEqual([]);
  });

  it('refuses a key that only shares the root folder name as a prefix', async () => {
    await expect(storage.put('../uploads-evil/x.png', Buffer.from('x'), 'image/png')).rejects.toThrow(/escapes the storage root/);
  });

  it('keeps keys inside a relative root given with a trailing slash', async () => {
    const previous = process.cwd();
    process.chdir(parent);
    try {
      const relative = new DiskObjectStorage('./relative/', 'http://localhost:3000');
      await relative.put('events/1/a.png', Buffer.from('rel'), 'image/png');
      expect((await readFile(join(parent, 'relative', 'events', '1', 'a.png'))).toString()).toBe('rel');
      await expect(relative.put('../outside.png', Buffer.from('x'), 'image/png')).rejects.toThrow(/escapes the storage root/);
    } finally {
      process.chdir(previous);
    }
  });
});
