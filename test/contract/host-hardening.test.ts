import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { httpCallPrefix, tokenHeader, tokenQuery } from '../../main/common/api-contract';
import type { EngineReport } from '../../main/common/engine';
import { startCore, type Core } from '../../main/core';
import { startBrowserHost, type BrowserHost } from '../../main/server/host';
import { tokenCookieName } from '../../main/server/security';
import { rawExchange, sendWsFrames, wsFrame } from '../helpers/raw-http';

/**
 * The browser host as an attacker and an unlucky client meet it (issue 17): requests that
 * used to kill the process (a NUL in the path, malformed WebSocket frames), bodies that are
 * too large or never arrive, and the token cookie, which belongs to one port and opens only
 * the page's assets and media.
 */

const fakeReport: EngineReport = {
  chosen: 'cpu',
  requested: 'auto',
  candidates: [{ name: 'cpu', available: true, reason: 'fake' }],
  probeMs: 1,
};

let tempDir: string;
let core: Core;
let host: BrowserHost;
const extraHosts: BrowserHost[] = [];

beforeEach(async () => {
  tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-harden-'));
  const staticDir = path.join(tempDir, 'static');
  fs.mkdirSync(staticDir);
  fs.writeFileSync(path.join(staticDir, 'index.html'), '<!doctype html><title>t</title>');
  core = startCore({ dataDir: path.join(tempDir, 'data'), mode: 'browser', probeEngines: async () => fakeReport, pingIntervalMs: 60_000 });
  host = await startBrowserHost({ handlers: core.handlers, hub: core.hub, staticDir, bodyTimeoutMs: 300 });
});

afterEach(async () => {
  for (const extra of extraHosts.splice(0)) await extra.close();
  await host.close();
  core.close();
  fs.rmSync(tempDir, { recursive: true, force: true });
});

/** The host still answers a normal call (the probe did not kill or wedge it). */
async function stillServing(target: BrowserHost = host): Promise<void> {
  const response = await fetch(`http://127.0.0.1:${target.port}${httpCallPrefix}settingsGet`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', [tokenHeader]: target.token },
    body: '{"args":{}}',
  });
  expect(response.status).toBe(200);
}

function request(lines: string[], body = ''): string {
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

describe('browser host: requests that used to stop the process', () => {
  it('answers GET /%00 with 400, with the token or the cookie alone, and keeps serving', async () => {
    for (const auth of [`${tokenHeader}: ${host.token}`, `Cookie: ${tokenCookieName(host.port)}=${host.token}`]) {
      for (const target of ['/%00', '/index.html%00.js', '/a%0Ab', `/%00?${tokenQuery}=${host.token}`]) {
        const answer = await rawExchange(host.port, request([`GET ${target} HTTP/1.1`, `Host: 127.0.0.1:${host.port}`, auth, 'Connection: close']));
        expect(answer.status, `${target} with ${auth.split(':')[0]}`).toBe(400);
      }
    }
    await stillServing();
  });

  it('survives malformed WebSocket frames (reserved opcode, unmasked, invalid UTF-8, over the limit, bad RSV, fragmented control)', async () => {
    const frames: [string, Buffer[]][] = [
      ['reserved opcode 0x3', [wsFrame(0x3, Buffer.from('x'))]],
      ['unmasked text frame', [wsFrame(0x1, Buffer.from('hello'), { masked: false })]],
      ['invalid UTF-8 text', [wsFrame(0x1, Buffer.from([0xc3, 0x28, 0xff]))]],
      ['payload over the limit', [wsFrame(0x2, Buffer.alloc(70 * 1024, 1))]],
      ['RSV bits without an extension', [wsFrame(0x1, Buffer.from('x'), { rsv: 0b111 })]],
      ['fragmented ping', [wsFrame(0x9, Buffer.from('p'), { fin: false })]],
      ['close with invalid code', [wsFrame(0x8, Buffer.from([0x03, 0xe7]))]],
      ['continuation without a start', [wsFrame(0x0, Buffer.from('x'))]],
    ];
    for (const [what, list] of frames) {
      const outcome = await sendWsFrames(host.port, host.token, list, 5000);
      expect(outcome.upgraded, what).toBe(true);
      expect(outcome.closed, `${what}: the server closes the socket`).toBe(true);
      await stillServing();
    }
  });

  it('answers an unexpected exception in a handler with 500 and no stack trace, and keeps serving', async () => {
    const broken = await startBrowserHost({
      handlers: { ...core.handlers, settingsGet: () => ({ big: 10n }) as never },
      hub: core.hub,
    });
    extraHosts.push(broken);
    const response = await fetch(`http://127.0.0.1:${broken.port}${httpCallPrefix}settingsGet`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [tokenHeader]: broken.token },
      body: '{"args":{}}',
    });
    expect(response.status).toBe(500);
    const text = await response.text();
    expect(text).not.toMatch(/\n\s+at /);
    expect(text).toContain('INTERNAL');
    const settings = await fetch(`http://127.0.0.1:${broken.port}${httpCallPrefix}appInfo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [tokenHeader]: broken.token },
      body: '{"args":{}}',
    });
    expect(settings.status).toBe(200);
  });
});

describe('browser host: request bodies', () => {
  const callHead = (length: number | 'chunked'): string[] => [
    `POST ${httpCallPrefix}settingsGet HTTP/1.1`,
    `Host: 127.0.0.1:${host.port}`,
    `${tokenHeader}: ${host.token}`,
    'Content-Type: application/json',
    length === 'chunked' ? 'Transfer-Encoding: chunked' : `Content-Length: ${length}`,
  ];

  it('answers a declared body over 1 MB with 413 at once (5 MB declared, 11 bytes sent)', async () => {
    const started = Date.now();
    const answer = await rawExchange(host.port, request(callHead(5 * 1024 * 1024), '{"args":{}}'));
    expect(answer.status).toBe(413);
    expect(answer.text).toContain('INVALID_ARGUMENT');
    expect(Date.now() - started).toBeLessThan(250);
    await stillServing();
  });

  it('answers a streamed body that grows over 1 MB with 413, not a reset', async () => {
    const chunk = 'x'.repeat(256 * 1024);
    const body = Array.from({ length: 5 }, () => `${(chunk.length).toString(16)}\r\n${chunk}\r\n`).join('') + '0\r\n\r\n';
    const answer = await rawExchange(host.port, request(callHead('chunked'), body));
    expect(answer.status).toBe(413);
    await stillServing();
  });

  it('answers a body that never arrives (500 KB declared, 11 bytes sent) with 408 after the body timeout', async () => {
    const answer = await rawExchange(host.port, request(callHead(500 * 1024), '{"args":{}}'), 3000);
    expect(answer.status).toBe(408);
    expect(answer.text).toMatch(/did not arrive within/);
    await stillServing();
  });

  it('accepts a body of just under the limit', async () => {
    const padding = ' '.repeat(1024 * 1024 - 20);
    const answer = await rawExchange(host.port, request([...callHead(Buffer.byteLength(`{"args":{}}${padding}`)), 'Connection: close'], `{"args":{}}${padding}`));
    expect(answer.status).toBe(200);
  });
});

describe('browser host: the token cookie', () => {
  it('is named for its port, so two instances keep their own', async () => {
    const second = await startBrowserHost({ handlers: core.handlers, hub: core.hub, staticDir: path.join(tempDir, 'static') });
    extraHosts.push(second);
    expect(tokenCookieName(host.port)).not.toBe(tokenCookieName(second.port));
    const first = await fetch(`http://127.0.0.1:${host.port}/?${tokenQuery}=${host.token}`);
    const other = await fetch(`http://127.0.0.1:${second.port}/?${tokenQuery}=${second.token}`);
    expect(first.headers.get('set-cookie')).toMatch(new RegExp(`^${tokenCookieName(host.port)}=`));
    expect(other.headers.get('set-cookie')).toMatch(new RegExp(`^${tokenCookieName(second.port)}=`));
    // A browser sends both cookies to both ports: each host reads only its own.
    const cookies = `${tokenCookieName(host.port)}=${host.token}; ${tokenCookieName(second.port)}=${second.token}`;
    expect((await fetch(`http://127.0.0.1:${host.port}/index.html`, { headers: { cookie: cookies } })).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${second.port}/index.html`, { headers: { cookie: cookies } })).status).toBe(200);
    // The other instance's cookie alone opens nothing here.
    const foreign = `${tokenCookieName(second.port)}=${second.token}`;
    expect((await fetch(`http://127.0.0.1:${host.port}/index.html`, { headers: { cookie: foreign } })).status).toBe(401);
  });

  it('opens the page and media on GET only: calls and the event socket need the header or the query token', async () => {
    const cookie = `${tokenCookieName(host.port)}=${host.token}`;
    expect((await fetch(`http://127.0.0.1:${host.port}/index.html`, { headers: { cookie } })).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${host.port}/thumbs/1`, { headers: { cookie } })).status).toBe(404);
    const call = await fetch(`http://127.0.0.1:${host.port}${httpCallPrefix}settingsGet`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie },
      body: '{"args":{}}',
    });
    expect(call.status).toBe(401);
    const upgrade = await rawExchange(
      host.port,
      request([
        'GET /api/events HTTP/1.1',
        `Host: 127.0.0.1:${host.port}`,
        `Cookie: ${cookie}`,
        'Upgrade: websocket',
        'Connection: Upgrade',
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
        'Sec-WebSocket-Version: 13',
      ]),
    );
    expect(upgrade.status).toBe(401);
  });
});
