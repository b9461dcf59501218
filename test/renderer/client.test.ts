// @vitest-environment happy-dom
import { describe, expect, it, vi } from 'vitest';
import { tokenHeader, type PreloadApi } from '../../main/common/api-contract';
import { browserToken, createHttpClient, createIpcClient } from '../../renderer/src/api/client';

const origin = 'http://127.0.0.1:4321';

function jsonResponse(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

function fakeFetch(respond: () => Response | Promise<Response>) {
  return vi.fn(async (_input: string | URL | Request, _init?: RequestInit): Promise<Response> => respond());
}

describe('createHttpClient', () => {
  it('POSTs to /api/call/<name> with the token header and { args } as JSON', async () => {
    const fetcher = fakeFetch(() => jsonResponse({ ok: true, value: { theme: 'dark' } }));
    const client = createHttpClient(origin, 'secret-token', fetcher);
    expect(client.transport).toBe('http');

    const result = await client.call('settingsSet', { patch: { theme: 'dark' } });
    expect(result).toEqual({ ok: true, value: { theme: 'dark' } });

    expect(fetcher).toHaveBeenCalledTimes(1);
    const [input, init] = fetcher.mock.calls[0] ?? [];
    expect(String(input)).toBe(`${origin}/api/call/settingsSet`);
    expect(init?.method).toBe('POST');
    const headers = new Headers(init?.headers);
    expect(headers.get(tokenHeader)).toBe('secret-token');
    expect(headers.get('content-type')).toBe('application/json');
    expect(JSON.parse(String(init?.body))).toEqual({ args: { patch: { theme: 'dark' } } });
  });

  it('passes an error Result from the server through unchanged', async () => {
    const error = {
      ok: false,
      error: { code: 'INVALID_ARGUMENT', message: 'Invalid arguments for settingsSet' },
    };
    const client = createHttpClient(
      origin,
      't',
      fakeFetch(() => jsonResponse(error, 400)),
    );
    expect(await client.call('settingsSet', { patch: {} })).toEqual(error);
  });

  it('turns a response that is not a Result into an error result', async () => {
    for (const body of [{ hello: 'world' }, [1, 2], 'text', null, { ok: false, error: 'no code' }]) {
      const client = createHttpClient(
        origin,
        't',
        fakeFetch(() => jsonResponse(body, 502)),
      );
      const result = await client.call('settingsGet', {});
      expect(result.ok, JSON.stringify(body)).toBe(false);
      if (!result.ok) {
        expect(result.error.code).toBe('INTERNAL');
        expect(result.error.message).toContain('settingsGet');
        expect(result.error.message).toContain('502');
      }
    }
  });

  it('turns a fetch that throws into UNAVAILABLE', async () => {
    const fetcher = fakeFetch(() => {
      throw new TypeError('fetch failed: connection refused');
    });
    const client = createHttpClient(origin, 't', fetcher);
    const result = await client.call('appInfo', {});
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.code).toBe('UNAVAILABLE');
      expect(result.error.message).toContain('appInfo');
      expect(result.error.message).toContain('connection refused');
    }
  });

  it('turns a body that is not JSON into an error result, never a throw', async () => {
    const client = createHttpClient(
      origin,
      't',
      fakeFetch(() => new Response('<html>Bad gateway</html>', { status: 502 })),
    );
    const result = await client.call('settingsGet', {});
    expect(result.ok).toBe(false);
  });
});

describe('createIpcClient', () => {
  function fakePreload() {
    const unsubscribe = vi.fn();
    const api = {
      appInfo: vi.fn(async () => ({ ok: true, value: 'info' })),
      settingsGet: vi.fn(async () => ({ ok: true, value: 'settings' })),
      settingsSet: vi.fn(async () => ({ ok: true, value: 'set' })),
      onPing: vi.fn((_listener: (payload: unknown) => void) => unsubscribe),
      onMenu: vi.fn((_listener: (payload: unknown) => void) => unsubscribe),
    };
    return { api, unsubscribe, typed: api as unknown as PreloadApi };
  }

  it('routes a call to the preload method of the same name', async () => {
    const fake = fakePreload();
    const client = createIpcClient(fake.typed);
    expect(client.transport).toBe('ipc');
    expect(await client.call('settingsSet', { patch: { theme: 'light' } })).toEqual({
      ok: true,
      value: 'set',
    });
    expect(fake.api.settingsSet).toHaveBeenCalledWith({ patch: { theme: 'light' } });
    expect(fake.api.settingsGet).not.toHaveBeenCalled();
    expect(fake.api.appInfo).not.toHaveBeenCalled();

    expect(await client.call('appInfo', {})).toEqual({ ok: true, value: 'info' });
    expect(fake.api.appInfo).toHaveBeenCalledTimes(1);
  });

  it('routes on(name) to the onX method and returns its unsubscribe', () => {
    const fake = fakePreload();
    const client = createIpcClient(fake.typed);
    const listener = vi.fn();
    const unsubscribe = client.on('ping', listener);
    expect(fake.api.onPing).toHaveBeenCalledWith(listener);
    expect(fake.api.onMenu).not.toHaveBeenCalled();
    unsubscribe();
    expect(fake.unsubscribe).toHaveBeenCalledTimes(1);

    client.on('menu', listener);
    expect(fake.api.onMenu).toHaveBeenCalledWith(listener);
  });

  it('turns a rejected invoke into UNAVAILABLE and a non-Result into INTERNAL', async () => {
    const fake = fakePreload();
    fake.api.settingsGet.mockRejectedValueOnce(new Error('No handler registered'));
    const client = createIpcClient(fake.typed);
    const rejected = await client.call('settingsGet', {});
    expect(rejected.ok).toBe(false);
    if (!rejected.ok) expect(rejected.error.code).toBe('UNAVAILABLE');

    fake.api.settingsGet.mockResolvedValueOnce('not a result' as never);
    const odd = await client.call('settingsGet', {});
    expect(odd.ok).toBe(false);
    if (!odd.ok) expect(odd.error.code).toBe('INTERNAL');
  });

  it('reports the connection as open at once', () => {
    const client = createIpcClient(fakePreload().typed);
    const states: string[] = [];
    client.onConnection((state) => states.push(state));
    expect(states).toEqual(['open']);
  });
});

describe('browserToken', () => {
  it('reads ?token= and remembers it in storage', () => {
    window.sessionStorage.clear();
    const location = new URL('http://127.0.0.1:4321/?token=abc123') as unknown as Location;
    expect(browserToken(location, window.sessionStorage)).toBe('abc123');
    expect(window.sessionStorage.getItem('jigclu.token')).toBe('abc123');
  });

  it('falls back to the remembered token when the URL has none (a reload after navigation)', () => {
    window.sessionStorage.clear();
    window.sessionStorage.setItem('jigclu.token', 'remembered');
    const location = new URL('http://127.0.0.1:4321/#/settings') as unknown as Location;
    expect(browserToken(location, window.sessionStorage)).toBe('remembered');
  });

  it('prefers a new token in the URL over the remembered one', () => {
    window.sessionStorage.clear();
    window.sessionStorage.setItem('jigclu.token', 'old');
    const location = new URL('http://127.0.0.1:4321/?token=new') as unknown as Location;
    expect(browserToken(location, window.sessionStorage)).toBe('new');
    expect(window.sessionStorage.getItem('jigclu.token')).toBe('new');
  });

  it('returns an empty string when there is no token anywhere', () => {
    window.sessionStorage.clear();
    const location = new URL('http://127.0.0.1:4321/') as unknown as Location;
    expect(browserToken(location, window.sessionStorage)).toBe('');
  });

  it('works with the real window.location', () => {
    window.sessionStorage.clear();
    window.history.replaceState(null, '', '/?token=from-window');
    expect(browserToken(window.location, window.sessionStorage)).toBe('from-window');
    expect(window.sessionStorage.getItem('jigclu.token')).toBe('from-window');
  });
});
