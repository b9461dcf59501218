import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { httpCallPrefix, httpEventsPath, tokenHeader, tokenQuery } from '../../main/common/api-contract';
import type { EngineName, EngineReport } from '../../main/common/engine';
import { isResult, type Result } from '../../main/common/result';
import { startCore, type Core } from '../../main/core';
import { startBrowserHost, type BrowserHost } from '../../main/server/host';
import { contentSecurityPolicy, tokenCookieName } from '../../main/server/security';
import { badSettingsSetArgs, unknownCallNames } from './shared-cases';

const fixedReport: EngineReport = {
  chosen: 'wasm',
  requested: 'auto',
  candidates: [
    { name: 'tfjs-node-gpu', available: false, reason: 'fake: not installed' },
    { name: 'tfjs-node', available: false, reason: 'fake: not installed' },
    { name: 'wasm', available: true, reason: 'fake: works' },
    { name: 'cpu', available: true, reason: 'fake: works' },
  ],
  probeMs: 1,
};

const indexHtml =
  '<!doctype html><html><head><title>JigClu test page</title></head><body>hello</body></html>';
const secretText = 'SECRET-OUTSIDE-STATIC-DIR';

let tempDir: string;
let staticDir: string;
let core: Core;
let host: BrowserHost;
let probe: ReturnType<typeof vi.fn<(requested: EngineName | 'auto') => Promise<EngineReport>>>;
const openSockets: WebSocket[] = [];

beforeEach(async () => {
  tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-'));
  staticDir = path.join(tempDir, 'static');
  fs.mkdirSync(staticDir);
  fs.writeFileSync(path.join(staticDir, 'index.html'), indexHtml);
  // A file beside (not inside) the static folder: traversal must never reach it.
  fs.writeFileSync(path.join(tempDir, 'secret.txt'), secretText);
  probe = vi.fn(async (requested: EngineName | 'auto') => ({ ...fixedReport, requested }));
  core = startCore({
    dataDir: path.join(tempDir, 'data'),
    mode: 'browser',
    probeEngines: probe,
    pingIntervalMs: 50,
  });
  host = await startBrowserHost({ handlers: core.handlers, hub: core.hub, staticDir });
});

afterEach(async () => {
  for (const socket of openSockets.splice(0)) socket.terminate();
  await host.close();
  core.close();
  fs.rmSync(tempDir, { recursive: true, force: true });
});

function base(): string {
  return `http://127.0.0.1:${host.port}`;
}

async function postCall(
  name: string,
  body: string,
  headers: Record<string, string> = { [tokenHeader]: host.token },
): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${base()}${httpCallPrefix}${name}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  return { status: response.status, body: await response.json() };
}

function call(name: string, args: unknown, headers?: Record<string, string>) {
  return postCall(name, JSON.stringify({ args }), headers);
}

function expectResult(body: unknown): Result<unknown> {
  expect(isResult(body)).toBe(true);
  return body as Result<unknown>;
}

function errorCode(body: unknown): string | undefined {
  const result = expectResult(body);
  return result.ok ? undefined : result.error.code;
}

/** A raw request, so the test controls the Host header and the exact request path. */
function rawRequest(options: {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: '127.0.0.1',
        port: host.port,
        method: options.method ?? 'GET',
        path: options.path,
        headers: options.headers,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(options.body);
  });
}

type SocketOutcome = { opened: true; socket: WebSocket } | { opened: false; status: number | undefined };

function openSocket(
  query: string,
  options: { headers?: Record<string, string>; origin?: string } = {},
): Promise<SocketOutcome> {
  return new Promise((resolve) => {
    const socket = new WebSocket(`ws://127.0.0.1:${host.port}${httpEventsPath}${query}`, options);
    openSockets.push(socket);
    socket.once('open', () => resolve({ opened: true, socket }));
    socket.once('unexpected-response', (_request, response) => {
      resolve({ opened: false, status: response.statusCode });
      socket.terminate();
    });
    socket.once('error', () => resolve({ opened: false, status: undefined }));
  });
}

describe('browser host: network binding', () => {
  it('binds 127.0.0.1 only', () => {
    expect(host.address).toBe('127.0.0.1');
    expect(host.port).toBeGreaterThan(0);
    expect(host.url).toBe(`http://127.0.0.1:${host.port}/?${tokenQuery}=${host.token}`);
  });

  it('refuses a TCP connection on another loopback address (127.0.0.2) on the same port', async () => {
    const outcome = await new Promise<string>((resolve) => {
      const socket = net.connect({ host: '127.0.0.2', port: host.port });
      socket.once('connect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'unknown error'));
    });
    expect(outcome).toBe('ECONNREFUSED');
  });

  it('accepts a TCP connection on 127.0.0.1 (so the refusal above means something)', async () => {
    const outcome = await new Promise<string>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port: host.port });
      socket.once('connect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'unknown error'));
    });
    expect(outcome).toBe('connected');
  });
});

describe('browser host: who may call', () => {
  it('refuses a call without a token with 401 and FORBIDDEN', async () => {
    const response = await call('appInfo', {}, {});
    expect(response.status).toBe(401);
    expect(errorCode(response.body)).toBe('FORBIDDEN');
    expect(probe).not.toHaveBeenCalled();
  });

  it('refuses a wrong token with 403, of the same length or not', async () => {
    const sameLength = host.token.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'));
    expect(sameLength).not.toBe(host.token);
    expect(sameLength).toHaveLength(host.token.length);
    for (const token of [sameLength, `${host.token}x`, 'short']) {
      const response = await call('appInfo', {}, { [tokenHeader]: token });
      expect(response.status).toBe(403);
      expect(errorCode(response.body)).toBe('FORBIDDEN');
    }
    expect(probe).not.toHaveBeenCalled();
  });

  it('refuses a foreign Origin even with the right token', async () => {
    const response = await call('appInfo', {}, { [tokenHeader]: host.token, origin: 'http://evil.example' });
    expect(response.status).toBe(403);
    expect(errorCode(response.body)).toBe('FORBIDDEN');
  });

  it('accepts our own Origin with the right token', async () => {
    const response = await call('appInfo', {}, { [tokenHeader]: host.token, origin: base() });
    expect(response.status).toBe(200);
  });

  it('refuses a Host header that is not ours (DNS rebinding), even with the right token', async () => {
    for (const hostHeader of ['evil.example', `evil.example:${host.port}`, `127.0.0.1:${host.port + 1}`]) {
      const response = await rawRequest({
        method: 'POST',
        path: `${httpCallPrefix}appInfo`,
        headers: { host: hostHeader, 'content-type': 'application/json', [tokenHeader]: host.token },
        body: '{"args":{}}',
      });
      expect(response.status, hostHeader).toBe(403);
      expect(errorCode(JSON.parse(response.body))).toBe('FORBIDDEN');
    }
    // The same raw request with our Host goes through.
    const ours = await rawRequest({
      method: 'POST',
      path: `${httpCallPrefix}appInfo`,
      headers: {
        host: `localhost:${host.port}`,
        'content-type': 'application/json',
        [tokenHeader]: host.token,
      },
      body: '{"args":{}}',
    });
    expect(ours.status).toBe(200);
  });
});

describe('browser host: calls', () => {
  it('answers appInfo with the right token: 200 and an ok Result', async () => {
    const response = await call('appInfo', {});
    expect(response.status).toBe(200);
    const result = expectResult(response.body);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value).toMatchObject({
      name: 'JigClu Studio',
      mode: 'browser',
      dataDir: path.join(tempDir, 'data'),
      engine: { ...fixedReport, requested: 'auto' },
    });
    expect(probe).toHaveBeenCalledWith('auto', 'auto');
  });

  it('refuses bad settingsSet arguments with 400 and INVALID_ARGUMENT', async () => {
    for (const [label, args] of badSettingsSetArgs) {
      const response = await call('settingsSet', args);
      expect(response.status, label).toBe(400);
      expect(errorCode(response.body), label).toBe('INVALID_ARGUMENT');
    }
    // Nothing was written.
    const after = expectResult((await call('settingsGet', {})).body);
    expect(after).toEqual({
      ok: true,
      value: { theme: 'system', engine: 'auto', threads: 'auto', confirmBeforeDelete: true },
    });
  });

  it('refuses unknown calls with 404 and UNKNOWN_CALL', async () => {
    for (const name of unknownCallNames) {
      const response = await call(name, {});
      expect(response.status, name).toBe(404);
      expect(errorCode(response.body), name).toBe('UNKNOWN_CALL');
    }
  });

  it('refuses a body that is not JSON with INVALID_ARGUMENT', async () => {
    const response = await postCall('settingsGet', '{not json');
    expect(response.status).toBe(400);
    expect(errorCode(response.body)).toBe('INVALID_ARGUMENT');
  });

  it('refuses a call without a JSON content type (a cross-site form post)', async () => {
    const response = await fetch(`${base()}${httpCallPrefix}settingsGet`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', [tokenHeader]: host.token },
      body: JSON.stringify({ args: {} }),
    });
    expect(response.status).toBe(400);
    expect(errorCode(await response.json())).toBe('INVALID_ARGUMENT');
  });

  it('refuses a GET on a call route', async () => {
    const response = await fetch(`${base()}${httpCallPrefix}settingsGet`, {
      headers: { [tokenHeader]: host.token },
    });
    expect(response.status).toBe(405);
    expect(errorCode(await response.json())).toBe('INVALID_ARGUMENT');
  });

  it('round-trips settingsSet then settingsGet', async () => {
    const set = await call('settingsSet', { patch: { theme: 'dark', confirmBeforeDelete: false } });
    expect(set.status).toBe(200);
    expect(expectResult(set.body)).toEqual({
      ok: true,
      value: { theme: 'dark', engine: 'auto', threads: 'auto', confirmBeforeDelete: false },
    });
    const get = await call('settingsGet', {});
    expect(get.status).toBe(200);
    expect(expectResult(get.body)).toEqual({
      ok: true,
      value: { theme: 'dark', engine: 'auto', threads: 'auto', confirmBeforeDelete: false },
    });
  });

  // zod's .partial() would apply every field's default, resetting settings a patch does not name.
  it('a patch of one setting keeps the others', async () => {
    expect((await call('settingsSet', { patch: { engine: 'cpu', confirmBeforeDelete: false } })).status).toBe(
      200,
    );
    expect((await call('settingsSet', { patch: { theme: 'light' } })).status).toBe(200);
    const get = await call('settingsGet', {});
    expect(expectResult(get.body)).toEqual({
      ok: true,
      value: { theme: 'light', engine: 'cpu', threads: 'auto', confirmBeforeDelete: false },
    });
  });

  it("keeps a thread count, and refuses one that is not 'auto' or a whole number from 1", async () => {
    expect(expectResult((await call('settingsSet', { patch: { threads: 2 } })).body)).toMatchObject({ ok: true, value: { threads: 2 } });
    for (const threads of [0, 1.5, 'many']) {
      const refused = await call('settingsSet', { patch: { threads } });
      expect(refused.status, String(threads)).toBe(400);
      expect(errorCode(refused.body)).toBe('INVALID_ARGUMENT');
    }
    expect(expectResult((await call('settingsGet', {})).body)).toMatchObject({ ok: true, value: { threads: 2 } });
    expect((await call('settingsSet', { patch: { threads: 'auto' } })).status).toBe(200);
  });
});

describe('browser host: static files', () => {
  it('serves index.html for ?token=, with an HttpOnly SameSite=Strict cookie and a CSP', async () => {
    const response = await fetch(`${base()}/?${tokenQuery}=${host.token}`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(indexHtml);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.headers.get('content-security-policy')).toBe(contentSecurityPolicy);
    expect(contentSecurityPolicy).toContain("default-src 'none'");
    const cookie = response.headers.get('set-cookie') ?? '';
    expect(cookie).toContain(`${tokenCookieName(host.port)}=${host.token}`);
    const attributes = cookie.split(';').map((part) => part.trim().toLowerCase());
    expect(attributes).toContain('httponly');
    expect(attributes).toContain('samesite=strict');
  });

  it('lets the cookie, and nothing less, fetch the page assets', async () => {
    const withCookie = await fetch(`${base()}/index.html`, {
      headers: { cookie: `${tokenCookieName(host.port)}=${host.token}` },
    });
    expect(withCookie.status).toBe(200);
    expect(withCookie.headers.get('set-cookie')).toBeNull();

    const without = await fetch(`${base()}/index.html`);
    expect(without.status).toBe(401);
    expect(await without.text()).not.toContain('JigClu test page');
  });

  it('never serves a file outside the static folder', async () => {
    const attempts = [
      '/..%2fsecret.txt',
      '/..%2f..%2fetc/passwd',
      '/%2e%2e/secret.txt',
      '/../secret.txt',
      '/static/..%2f..%2fsecret.txt',
      '/..%5csecret.txt',
    ];
    for (const attempt of attempts) {
      const separator = attempt.includes('?') ? '&' : '?';
      const response = await rawRequest({
        path: `${attempt}${separator}${tokenQuery}=${host.token}`,
        headers: { host: `127.0.0.1:${host.port}` },
      });
      expect([403, 404], attempt).toContain(response.status);
      expect(response.body, attempt).not.toContain(secretText);
      expect(response.body, attempt).not.toContain('root:');
    }
  });

  it('answers 404 for a missing file inside the static folder', async () => {
    const response = await fetch(`${base()}/missing.js?${tokenQuery}=${host.token}`);
    expect(response.status).toBe(404);
  });
});

describe('browser host: event stream', () => {
  it('refuses a socket without a token', async () => {
    const outcome = await openSocket('');
    expect(outcome.opened).toBe(false);
    if (!outcome.opened) expect(outcome.status).toBe(401);
  });

  it('refuses a socket with a wrong token', async () => {
    const outcome = await openSocket(`?${tokenQuery}=wrong-${host.token}`);
    expect(outcome.opened).toBe(false);
    if (!outcome.opened) expect(outcome.status).toBe(403);
  });

  it('refuses a socket from a foreign Origin even with the right token', async () => {
    const outcome = await openSocket(`?${tokenQuery}=${host.token}`, { origin: 'http://evil.example' });
    expect(outcome.opened).toBe(false);
    if (!outcome.opened) expect(outcome.status).toBe(403);
  });

  it('refuses a socket on another path', async () => {
    const outcome = await new Promise<SocketOutcome>((resolve) => {
      const socket = new WebSocket(`ws://127.0.0.1:${host.port}/api/other?${tokenQuery}=${host.token}`);
      openSockets.push(socket);
      socket.once('open', () => resolve({ opened: true, socket }));
      socket.once('unexpected-response', (_request, response) =>
        resolve({ opened: false, status: response.statusCode }),
      );
      socket.once('error', () => resolve({ opened: false, status: undefined }));
    });
    expect(outcome.opened).toBe(false);
  });

  it('delivers ping events within a second to a socket with the token', async () => {
    const outcome = await openSocket(`?${tokenQuery}=${host.token}`, { origin: base() });
    expect(outcome.opened).toBe(true);
    if (!outcome.opened) return;
    const message = await new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no ping within a second')), 1000);
      outcome.socket.on('message', (data: Buffer) => {
        const parsed = JSON.parse(data.toString('utf8')) as { event?: unknown };
        if (parsed.event === 'ping') {
          clearTimeout(timer);
          resolve(parsed);
        }
      });
    });
    expect(message).toEqual({
      event: 'ping',
      payload: { seq: expect.any(Number), sentAt: expect.any(String) },
    });
    const { payload } = message as { payload: { seq: number; sentAt: string } };
    expect(payload.seq).toBeGreaterThanOrEqual(1);
    expect(Number.isNaN(Date.parse(payload.sentAt))).toBe(false);
  });

  it('accepts the token in a header as well', async () => {
    const outcome = await openSocket('', { headers: { [tokenHeader]: host.token } });
    expect(outcome.opened).toBe(true);
  });
});

describe('browser host: malformed requests', () => {
  /** Sends raw bytes and returns the status line's code (the socket must answer, not hang). */
  function rawStatus(requestLine: string, withToken: boolean): Promise<number> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(host.port, '127.0.0.1', () => {
        const headers = [`Host: 127.0.0.1:${host.port}`, withToken ? `${tokenHeader}: ${host.token}` : '', 'Connection: close']
          .filter(Boolean)
          .join('\r\n');
        socket.write(`${requestLine}\r\n${headers}\r\n\r\n`);
      });
      let data = '';
      socket.on('data', (chunk) => (data += chunk.toString()));
      socket.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0)));
      socket.on('error', reject);
      socket.setTimeout(5000, () => reject(new Error(`no answer to ${requestLine}`)));
    });
  }

  it('answers malformed targets and escapes with 4xx and keeps serving', async () => {
    const cases: [string, boolean][] = [
      ['GET //[ HTTP/1.1', false],
      ['GET /%E0%A4%A HTTP/1.1', true],
    ];
    for (const [line, withToken] of cases) {
      const status = await rawStatus(line, withToken);
      expect(status, line).toBeGreaterThanOrEqual(400);
      expect(status, line).toBeLessThan(500);
    }
    const bad = await call('%E0%A4%A', {});
    expect(errorCode(bad.body)).toBe('UNKNOWN_CALL');
    expect((await call('settingsGet', {})).status).toBe(200);
  });
});
