import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { externalLinks } from '../../main/common/links';
import { startCore } from '../../main/core';
import type { ChildChannel, LaunchOptions } from '../../main/jobs/launcher';
import { TrainerHost } from '../../main/jobs/trainer-host';
import type { UtilityChild, UtilityFork } from '../../electron/utility-launcher';

/**
 * The desktop app's hardening (issue 17), with Electron faked (its binary is not installed
 * here): links open in the system browser only when they are the app's own; permissions,
 * device permissions and device pickers are denied; the app:// protocol answers a NUL or a
 * malformed escape with 400; the trainer and the engine probe start through the launcher the
 * desktop app gives (Electron's utilityProcess, so the RunAsNode fuse can be off).
 */

const protocolHandlers = new Map<string, (request: Request) => Promise<Response>>();
vi.mock('electron', () => ({
  app: { on: vi.fn() },
  session: { defaultSession: {} },
  shell: { openExternal: vi.fn() },
  utilityProcess: { fork: vi.fn() },
  net: { fetch: vi.fn(async () => new Response('file body', { status: 200 })) },
  protocol: {
    registerSchemesAsPrivileged: vi.fn(),
    handle: (scheme: string, handler: (request: Request) => Promise<Response>) => protocolHandlers.set(scheme, handler),
  },
}));

const { applySecurityPolicies, handleWindowOpen } = await import('../../electron/security');
const { serveRenderer } = await import('../../electron/protocol');
const { utilityLauncher } = await import('../../electron/utility-launcher');

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

/** A fake session recording its handlers, and a fake app that creates one fake web contents. */
function fakeElectron() {
  const session = Object.assign(new EventEmitter(), {
    permissionRequest: undefined as undefined | ((contents: unknown, permission: string, callback: (granted: boolean) => void) => void),
    permissionCheck: undefined as undefined | (() => boolean),
    devicePermission: undefined as undefined | (() => boolean),
    displayMedia: undefined as undefined | ((request: unknown, callback: (streams: unknown) => void) => void),
    setPermissionRequestHandler(handler: never) {
      this.permissionRequest = handler;
    },
    setPermissionCheckHandler(handler: never) {
      this.permissionCheck = handler;
    },
    setDevicePermissionHandler(handler: never) {
      this.devicePermission = handler;
    },
    setDisplayMediaRequestHandler(handler: never) {
      this.displayMedia = handler;
    },
  });
  const app = new EventEmitter();
  const opened: string[] = [];
  applySecurityPolicies({ app: app as never, session: session as never, openExternal: async (url) => void opened.push(url) });
  const contents = Object.assign(new EventEmitter(), {
    openHandler: undefined as undefined | ((details: { url: string }) => { action: string }),
    setWindowOpenHandler(handler: never) {
      this.openHandler = handler;
    },
  });
  app.emit('web-contents-created', {}, contents);
  return { session, contents, opened };
}

function preventable() {
  return { preventDefault: vi.fn() };
}

describe('desktop security policies', () => {
  it('opens only the app’s own links in the system browser, exactly, and never a window', () => {
    const { contents, opened } = fakeElectron();
    const attempts = [
      externalLinks.paper,
      'https://evil.example/phish',
      'file:///etc/passwd',
      `${externalLinks.paper}?x=1`,
      'smb://host/share',
      'javascript:alert(1)',
      externalLinks.referenceCode.toUpperCase(),
    ];
    for (const url of attempts) expect(contents.openHandler!({ url })).toEqual({ action: 'deny' });
    expect(opened).toEqual([externalLinks.paper]);
    expect(handleWindowOpen(externalLinks.tfjsNodeGpu, async (url) => void opened.push(url))).toEqual({ action: 'deny' });
    expect(opened).toEqual([externalLinks.paper, externalLinks.tfjsNodeGpu]);
  });

  it('keeps navigation inside the renderer and refuses webviews', () => {
    const { contents } = fakeElectron();
    const away = preventable();
    contents.emit('will-navigate', away, 'https://evil.example/');
    expect(away.preventDefault).toHaveBeenCalled();
    const inside = preventable();
    contents.emit('will-navigate', inside, 'app://renderer/index.html');
    expect(inside.preventDefault).not.toHaveBeenCalled();
    const webview = preventable();
    contents.emit('will-attach-webview', webview);
    expect(webview.preventDefault).toHaveBeenCalled();
  });

  it('denies every permission, every device permission, device pickers and screen capture', () => {
    const { session, contents } = fakeElectron();
    const granted: boolean[] = [];
    for (const permission of ['media', 'notifications', 'geolocation', 'hid', 'serial', 'usb', 'clipboard-read']) session.permissionRequest!({}, permission, (ok) => granted.push(ok));
    expect(granted).toEqual(Array(7).fill(false));
    expect(session.permissionCheck!()).toBe(false);
    expect(session.devicePermission!()).toBe(false);
    const streams: unknown[] = [];
    session.displayMedia!({}, (value) => streams.push(value));
    expect(streams).toEqual([null]);
    for (const [event, args] of [
      ['select-hid-device', [{ deviceList: [{ deviceId: 'keyboard' }] }]],
      ['select-usb-device', [{ deviceList: [{ deviceId: 'stick' }] }]],
      ['select-serial-port', [[{ portId: 'COM1' }], {}]],
    ] as const) {
      const choice = preventable();
      const callback = vi.fn();
      session.emit(event, choice, ...args, callback);
      expect(choice.preventDefault, event).toHaveBeenCalled();
      expect(callback, event).toHaveBeenCalledTimes(1);
      expect(callback.mock.calls[0]?.[0] || undefined, event).toBeUndefined();
    }
    const bluetooth = preventable();
    const pick = vi.fn();
    contents.emit('select-bluetooth-device', bluetooth, [{ deviceId: 'headset' }], pick);
    expect(pick).toHaveBeenCalledWith('');
  });
});

describe('the app:// protocol', () => {
  it('answers a NUL, a control character or a malformed escape with 400 and a path out with 403, never throwing', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-renderer-'));
    cleanups.push(() => fs.rmSync(root, { recursive: true, force: true }));
    fs.writeFileSync(path.join(root, 'index.html'), '<!doctype html>');
    serveRenderer(root);
    const handler = protocolHandlers.get('app')!;
    expect((await handler(new Request('app://renderer/%00'))).status).toBe(400);
    expect((await handler(new Request('app://renderer/index.html%00.js'))).status).toBe(400);
    expect((await handler(new Request('app://renderer/a%0Ab'))).status).toBe(400);
    expect((await handler(new Request('app://renderer/%E0%A4%A'))).status).toBe(400);
    expect((await handler(new Request('app://renderer/..%2f..%2fetc%2fpasswd'))).status).toBe(403);
    expect((await handler(new Request('app://renderer/missing.js'))).status).toBe(404);
    expect((await handler(new Request('app://renderer/index.html'))).status).toBe(200);
  });
});

/** A fake utility process: records what it was sent, and lets the test answer. */
function fakeUtilityChild(): UtilityChild & { sent: unknown[]; emitter: EventEmitter } {
  const emitter = new EventEmitter();
  const sent: unknown[] = [];
  return {
    pid: 77,
    stderr: null,
    sent,
    emitter,
    postMessage: (message: unknown) => void sent.push(message),
    on: ((event: string, listener: (...args: unknown[]) => void) => emitter.on(event, listener)) as UtilityChild['on'],
    kill: () => emitter.emit('exit', 1) || true,
  };
}

describe('the utility-process launcher', () => {
  it('starts the trainer without child_process and reads its answer as a clean end', async () => {
    const child = fakeUtilityChild();
    const forks: { script: string; options: unknown }[] = [];
    const fork: UtilityFork = (script, _args, options) => {
      forks.push({ script, options });
      return child;
    };
    const host = new TrainerHost('/app/out/main/trainer-process.js', { launcher: utilityLauncher(fork), maxOldSpaceMb: 2048 });
    host.runJob({ kind: 'pca', features: new Float32Array(4), n: 2, dim: 2 }, 'cpu');
    expect(forks).toEqual([{ script: '/app/out/main/trainer-process.js', options: { execArgv: ['--max-old-space-size=2048'], stdio: ['ignore', 'inherit', 'pipe'], serviceName: 'JigClu Studio trainer (job pca)' } }]);
    expect(child.sent).toMatchObject([{ type: 'job', seq: 1 }]);
    child.emitter.emit('message', { seq: 1, type: 'job-result', result: [1, 2] });
    child.emitter.emit('exit', 0);
    expect(await host.done).toEqual({ kind: 'answered' });
  });

  it('is what the core uses for its helper processes when given one (the engine probe here)', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-launcher-'));
    cleanups.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    const launched: { script: string; options?: LaunchOptions }[] = [];
    const launcher = (script: string, options?: LaunchOptions): ChildChannel => {
      launched.push({ script, options });
      const listeners: ((message: unknown) => void)[] = [];
      setImmediate(() => listeners.forEach((listener) => listener({ ok: true, report: { chosen: 'cpu', requested: 'auto', candidates: [], probeMs: 1 } })));
      return { pid: 1, connected: true, send: () => undefined, onMessage: (listener) => listeners.push(listener), onStderr: () => undefined, onExit: () => undefined, kill: () => undefined };
    };
    const core = startCore({ dataDir, mode: 'electron', launcher });
    cleanups.push(() => core.close());
    const info = await core.handlers.appInfo({});
    expect(info.engine.chosen).toBe('cpu');
    expect(launched).toHaveLength(1);
    expect(path.basename(launched[0]!.script)).toBe('engine-probe.js');
    // The requested engine and the wasm engine's thread setting.
    expect(launched[0]!.options?.args).toEqual(['auto', 'auto']);
  });
});
