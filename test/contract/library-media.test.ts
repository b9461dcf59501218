import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { httpCallPrefix, tokenHeader } from '../../main/common/api-contract';
import { startCore, type Core } from '../../main/core';
import { thumbnailFile } from '../../main/data/thumbnails';
import { startBrowserHost, type BrowserHost } from '../../main/server/host';
import { tokenCookieName } from '../../main/server/security';
import { dataset, fakeEngineReport } from '../helpers/library';

/**
 * Thumbnails and images are served only for images of registered folders, by id: the routes of
 * browser mode (the same MediaSource backs Electron's jigclu-media:// protocol) refuse every
 * path trick, a tampered database row that leaves its folder, and symbolic links pointing out.
 */

let work: string;
let photos: string;
let secret: Buffer;
let core: Core;
let host: BrowserHost;

beforeEach(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-media-'));
  photos = path.join(work, 'photos');
  const tiny = dataset('tiny');
  for (const className of ['airplane', 'frog']) {
    const from = path.join(tiny, className);
    fs.mkdirSync(path.join(photos, className), { recursive: true });
    for (const name of fs.readdirSync(from).sort().slice(0, 2)) fs.copyFileSync(path.join(from, name), path.join(photos, className, name));
  }
  // A real image outside the library, and links to it from inside.
  secret = fs.readFileSync(path.join(tiny, 'frog', fs.readdirSync(path.join(tiny, 'frog')).sort().at(-1)!));
  fs.mkdirSync(path.join(work, 'private'));
  fs.writeFileSync(path.join(work, 'private', 'secret.jpg'), secret);
  fs.symlinkSync(path.join(work, 'private', 'secret.jpg'), path.join(photos, 'link-out.jpg'));
  fs.symlinkSync(path.join(work, 'private'), path.join(photos, 'linked-folder'));
  core = startCore({ dataDir: path.join(work, 'data'), mode: 'browser', probeEngines: async () => fakeEngineReport });
  // A built renderer beside the library, so paths that are not media reach the static files (and still find nothing).
  const staticDir = path.join(work, 'static');
  fs.mkdirSync(staticDir);
  fs.writeFileSync(path.join(staticDir, 'index.html'), '<!doctype html><title>test</title>');
  host = await startBrowserHost({ handlers: core.handlers, hub: core.hub, media: core.media, staticDir });
  const { task } = await core.handlers.libraryAddFolder({ path: photos });
  expect((await core.tasks.settled(task.id)).status).toBe('finished');
  for (const thumbnails of core.tasks.list().filter((entry) => entry.kind === 'thumbnails')) await core.tasks.settled(thumbnails.id);
});

afterEach(async () => {
  try {
    await host?.close();
    await core?.tasks.cancelAll();
    core?.close();
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});

/** A raw GET (the path is sent exactly as given, no client-side normalisation). */
function get(rawPath: string, headers: Record<string, string> = { [tokenHeader]: host.token }): Promise<{ status: number; type: string; body: Buffer; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const request = http.request({ host: '127.0.0.1', port: host.port, path: rawPath, method: 'GET', headers: { host: `127.0.0.1:${host.port}`, ...headers } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, type: String(response.headers['content-type'] ?? ''), body: Buffer.concat(chunks), headers: response.headers }),
      );
    });
    request.on('error', reject);
    request.end();
  });
}

async function imageIds(): Promise<Map<string, number>> {
  const page = await core.handlers.libraryPage({ show: 'images', offset: 0, limit: 100 });
  return new Map(page.items.map((item) => [item.relPath, item.id]));
}

function containsSecret(body: Buffer): boolean {
  return body.length > 0 && body.includes(secret.subarray(200, 264));
}

describe('library media routes', () => {
  it('serves the thumbnail (WebP, at most 256 px) and the image (JPEG) of an imported image', async () => {
    const [id] = [...(await imageIds()).values()];
    const thumb = await get(`/thumbs/${id}`);
    expect(thumb.status).toBe(200);
    expect(thumb.type).toBe('image/webp');
    const meta = await sharp(thumb.body).metadata();
    expect(meta.format).toBe('webp');
    expect(Math.max(meta.width ?? 0, meta.height ?? 0)).toBeLessThanOrEqual(256);
    const image = await get(`/images/${id}`);
    expect(image.status).toBe(200);
    expect(image.type).toBe('image/jpeg');
    expect((await sharp(image.body).metadata()).format).toBe('jpeg');
  });

  it('needs the token: refused without it or with a wrong one, accepted from the cookie', async () => {
    const [id] = [...(await imageIds()).values()];
    expect((await get(`/thumbs/${id}`, {})).status).toBe(401);
    expect((await get(`/thumbs/${id}`, { [tokenHeader]: 'not-the-token' })).status).toBe(403);
    expect((await get(`/thumbs/${id}`, { cookie: `${tokenCookieName(host.port)}=${host.token}` })).status).toBe(200);
  });

  it('never imports a file or folder that a symbolic link points to outside the folder', async () => {
    const ids = await imageIds();
    expect([...ids.keys()].sort()).toEqual(expect.arrayContaining(['airplane/' + fs.readdirSync(path.join(photos, 'airplane')).sort()[0]]));
    expect([...ids.keys()].some((relPath) => relPath.includes('link'))).toBe(false);
    const problems = await core.handlers.libraryProblems({ offset: 0, limit: 10 });
    expect(problems.items.map((problem) => [problem.relPath, problem.kind])).toEqual([['link-out.jpg', 'symlink']]);
    expect(problems.items[0]?.reason).toMatch(/outside the folder/);
  });

  it.each([
    '/thumbs/../private/secret.jpg',
    '/images/../../private/secret.jpg',
    '/thumbs/%2e%2e%2fprivate%2fsecret.jpg',
    '/images/..%2F..%2Fprivate%2Fsecret.jpg',
    '/images/%2Fetc%2Fpasswd',
    '/thumbs/1%2F..%2F..%2Fsecret.jpg',
    '/thumbs/1/../../private/secret.jpg',
    '/thumbs/private/secret.jpg',
    '/thumbs//etc/passwd',
    '/thumbs/0',
    '/thumbs/-1',
    '/thumbs/1.5',
    '/thumbs/1e3',
    '/thumbs/0x1',
    '/thumbs/99999999999999999999',
    '/images/1%00.jpg',
    '/thumbs/',
    '/images',
  ])('refuses %s without serving anything', async (rawPath) => {
    const response = await get(rawPath);
    expect([400, 403, 404]).toContain(response.status);
    expect(response.type).not.toMatch(/^image\//);
    expect(containsSecret(response.body)).toBe(false);
  });

  it('refuses ids that are not in the library', async () => {
    const missing = await get('/thumbs/987654');
    expect(missing.status).toBe(404);
    expect(missing.body.toString()).toMatch(/No image with id 987654/);
  });

  it('refuses a database row whose path leaves its folder (../ or absolute), even with a cached thumbnail', async () => {
    const ids = [...(await imageIds()).values()];
    const [first, second] = ids;
    expect(fs.existsSync(thumbnailFile(path.join(core.dataDir, 'thumbnails'), (await core.handlers.libraryImage({ id: first! })).contentHash))).toBe(true);
    core.db.prepare("UPDATE images SET rel_path = '../private/secret.jpg' WHERE id = ?").run(first);
    core.db.prepare("UPDATE images SET rel_path = '/private/secret.jpg' WHERE id = ?").run(second);
    for (const id of [first, second]) {
      for (const kind of ['thumbs', 'images']) {
        const response = await get(`/${kind}/${id}`);
        expect(response.status, `${kind}/${id}`).toBe(403);
        expect(containsSecret(response.body)).toBe(false);
      }
    }
  });

  it('refuses an image whose file was replaced by a symbolic link pointing out of the folder', async () => {
    const [relPath, id] = [...(await imageIds())][0]!;
    const file = path.join(photos, ...relPath.split('/'));
    fs.rmSync(file);
    fs.symlinkSync(path.join(work, 'private', 'secret.jpg'), file);
    for (const kind of ['thumbs', 'images']) {
      const response = await get(`/${kind}/${id}`);
      expect(response.status, kind).toBe(403);
      expect(response.body.toString()).toMatch(/outside its registered folder/);
    }
  });

  it('stops serving a removed folder and deletes its thumbnails (but not its files)', async () => {
    const ids = [...(await imageIds()).values()];
    const hashes = await Promise.all(ids.map(async (id) => (await core.handlers.libraryImage({ id })).contentHash));
    const cache = path.join(core.dataDir, 'thumbnails');
    expect(hashes.every((hash) => fs.existsSync(thumbnailFile(cache, hash)))).toBe(true);
    const files = fs.readdirSync(photos, { recursive: true }).length;
    await core.handlers.libraryRemoveFolder({ folderId: 1, confirmed: false });
    for (const id of ids) expect((await get(`/thumbs/${id}`)).status).toBe(404);
    expect(hashes.some((hash) => fs.existsSync(thumbnailFile(cache, hash)))).toBe(false);
    expect(fs.readdirSync(photos, { recursive: true }).length).toBe(files);
  });

  it('answers 304 to a matching ETag, and lets a versioned URL be cached', async () => {
    const [item] = (await core.handlers.libraryPage({ show: 'images', offset: 0, limit: 1 })).items;
    const first = await get(`/thumbs/${item!.id}`);
    expect(first.headers['cache-control']).toBe('private, no-cache');
    const again = await get(`/thumbs/${item!.id}`, { [tokenHeader]: host.token, 'if-none-match': String(first.headers.etag) });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    const versioned = await get(`/thumbs/${item!.id}?v=${item!.version}`);
    expect(versioned.headers['cache-control']).toMatch(/max-age=\d+, immutable/);
    expect((await get(`/thumbs/${item!.id}?v=../etc`)).status).toBe(400);
  });
});

describe('library calls over HTTP', () => {
  async function call(name: string, args: unknown): Promise<{ status: number; body: { ok: boolean; error?: { code: string; message: string } } }> {
    const response = await fetch(`http://127.0.0.1:${host.port}${httpCallPrefix}${name}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [tokenHeader]: host.token },
      body: JSON.stringify({ args }),
    });
    return { status: response.status, body: (await response.json()) as never };
  }

  it.each([
    ['a relative path', { path: 'photos' }, 400, /full path/],
    ['a folder that does not exist', { path: path.join(os.tmpdir(), 'jigclu-no-such-folder-here') }, 404, /no folder/],
    ['a NUL character', { path: '/photos\0/x' }, 400, /NUL/],
    ['an unknown option', { path: '/x', options: { follow: true } }, 400, /follow/],
    ['a pixel limit of 0', { path: '/x', options: { maxPixels: 0 } }, 400, /maxPixels/],
  ])('libraryAddFolder refuses %s', async (_label, args, status, message) => {
    const response = await call('libraryAddFolder', args);
    expect(response.status).toBe(status);
    expect(response.body.error?.message).toMatch(message);
  });

  it('libraryAddFolder refuses a file, the same folder twice, a folder inside or around a registered one, and the data folder', async () => {
    fs.writeFileSync(path.join(work, 'note.txt'), 'x');
    expect((await call('libraryAddFolder', { path: path.join(work, 'note.txt') })).body.error).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect((await call('libraryAddFolder', { path: photos })).body.error).toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/already in the library/) });
    expect((await call('libraryAddFolder', { path: `${photos}/airplane/` })).body.error).toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/inside/) });
    expect((await call('libraryAddFolder', { path: work })).body.error).toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/contains/) });
    fs.mkdirSync(path.join(core.dataDir, 'inside'), { recursive: true });
    expect((await call('libraryAddFolder', { path: path.join(core.dataDir, 'inside') })).body.error).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/data folder/) });
    expect((await core.handlers.libraryFolders({})).length).toBe(1);
  });

  it('refuses pages that are too large, unknown filters and unknown ids', async () => {
    expect((await call('libraryPage', { limit: 100_000 })).status).toBe(400);
    expect((await call('libraryPage', { show: 'everything' })).status).toBe(400);
    expect((await call('libraryImage', { id: 424242 })).status).toBe(404);
    expect((await call('libraryRescan', { folderId: 77 })).status).toBe(404);
    expect((await call('libraryRemoveFolder', { folderId: '1' })).status).toBe(400);
  });

  it('has no native folder dialog in browser mode and says what to do instead', async () => {
    const response = await call('libraryPickFolder', {});
    expect(response.status).toBe(503);
    expect(response.body.error?.message).toMatch(/type the path/);
  });
});
