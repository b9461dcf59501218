import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { MediaKind } from '../../main/common/library';
import type { MediaRequest, MediaResponse, MediaSource } from '../../main/services/library';

/**
 * The desktop app's jigclu-media:// protocol (electron/protocol.ts) with Electron's `protocol`
 * faked: it registers the scheme as privileged next to app://, and hands only a kind and a
 * numeric id to the library's media source.
 */

const handlers = new Map<string, (request: Request) => Promise<Response>>();
const privileged: { scheme: string }[] = [];

vi.mock('electron', () => ({
  net: { fetch: vi.fn() },
  protocol: {
    registerSchemesAsPrivileged: (schemes: { scheme: string }[]) => privileged.push(...schemes),
    handle: (scheme: string, handler: (request: Request) => Promise<Response>) => handlers.set(scheme, handler),
  },
}));

const { registerAppScheme, serveMedia } = await import('../../electron/protocol');

let calls: [MediaKind, number, MediaRequest | undefined][];
const media: MediaSource = {
  async open(kind, id, request): Promise<MediaResponse> {
    calls.push([kind, id, request]);
    if (id === 403) return { status: 403, message: 'Refused: outside' };
    return { status: 200, type: 'image/webp', body: Buffer.from('RIFFxxxxWEBP'), etag: '"t"', cacheControl: 'private, no-cache' };
  },
};

beforeEach(() => {
  calls = [];
  handlers.clear();
  serveMedia(media);
});

function request(url: string, init?: RequestInit): Promise<Response> {
  const handler = handlers.get('jigclu-media');
  if (!handler) throw new Error('jigclu-media is not handled');
  return handler(new Request(url, init));
}

describe('the jigclu-media:// protocol', () => {
  it('is registered as a privileged scheme next to app://', () => {
    registerAppScheme();
    expect(privileged.map((entry) => entry.scheme)).toEqual(['app', 'jigclu-media']);
  });

  it('serves thumbnails and images by id', async () => {
    const response = await request('jigclu-media://thumbs/12?v=abcdef0123456789');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/webp');
    expect(Buffer.from(await response.arrayBuffer()).toString()).toBe('RIFFxxxxWEBP');
    expect(calls).toEqual([['thumbs', 12, { ifNoneMatch: undefined, version: 'abcdef0123456789' }]]);
    expect((await request('jigclu-media://images/7')).status).toBe(200);
    expect(calls.at(-1)?.slice(0, 2)).toEqual(['images', 7]);
  });

  it('passes refusals of the media source on as they are', async () => {
    const response = await request('jigclu-media://images/403');
    expect(response.status).toBe(403);
    expect(await response.text()).toMatch(/Refused/);
  });

  it.each([
    'jigclu-media://thumbs/../../etc/passwd',
    'jigclu-media://thumbs/%2e%2e%2fsecret.jpg',
    'jigclu-media://files/1',
    'jigclu-media://thumbs/1/2',
    'jigclu-media://thumbs/abc',
    'jigclu-media://thumbs/0',
    'jigclu-media://images/',
    'jigclu-media://etc/passwd',
  ])('refuses %s without asking the media source', async (url) => {
    const response = await request(url);
    expect(response.status).toBe(404);
    expect(calls).toEqual([]);
  });

  it('refuses a version that is not a hash prefix, and any method but GET', async () => {
    expect((await request('jigclu-media://thumbs/1?v=../x')).status).toBe(400);
    expect((await request('jigclu-media://thumbs/1', { method: 'POST', body: 'x' })).status).toBe(404);
    expect(calls).toEqual([]);
  });
});
