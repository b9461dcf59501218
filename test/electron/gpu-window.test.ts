import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { MessagePortMain } from 'electron';
import { localEngine } from '../../main/engine/backend/backend';
import { computeWindowFor, mainPort, parentGpuHost, type MainPortLike, type ParentPortLike } from '../../main/engine/backend/gpu-host-connection';
import { webGpuSwitches } from '../../main/gpu-host/chromium-switches';
import { gpuHostOpenRequest, gpuHostPortChannel, gpuHostPortMessage, gpuHostPortReply } from '../../main/gpu-host/protocol';
import type { ChildChannel } from '../../main/jobs/launcher';
import { contentSecurityPolicy } from '../../main/server/security';
import type { EngineCandidate } from '../../main/common/engine';
import type { UtilityChild, UtilityFork } from '../../electron/utility-launcher';
import type { GpuWindow, GpuWindowFactory, GpuWindowLike } from '../../electron/gpu-window';

/**
 * The desktop app's WebGPU compute window (issue 13), with Electron faked (its binary is not
 * installed here; the page itself is tested in Chromium by test/gpu-host/gpu-host.test.ts): the
 * window's options, the port handed to its page only after it loaded and to the utility process
 * that asked, the window closed with that process, app://gpu-host served with the app's CSP, the
 * window refused by the IPC router, the preload passing exactly one port, and the trainer's side.
 */

const protocolHandlers = new Map<string, (request: Request) => Promise<Response>>();
vi.mock('electron', () => ({
  BrowserWindow: vi.fn(),
  MessageChannelMain: vi.fn(),
  utilityProcess: { fork: vi.fn() },
  ipcRenderer: { on: vi.fn(), removeAllListeners: vi.fn() },
  net: { fetch: vi.fn(async () => new Response('file body', { status: 200 })) },
  protocol: {
    registerSchemesAsPrivileged: vi.fn(),
    handle: (scheme: string, handler: (request: Request) => Promise<Response>) => protocolHandlers.set(scheme, handler),
  },
}));
// The preload runs in a window; here its module-level call gets a stand-in.
(globalThis as { window?: unknown }).window = { postMessage: vi.fn() };

const { gpuWindowOptions, openGpuWindow, gpuHostOrigin } = await import('../../electron/gpu-window');
const { forwardGpuHostPort } = await import('../../electron/gpu-preload');
const { utilityLauncher } = await import('../../electron/utility-launcher');
const { serveRenderer } = await import('../../electron/protocol');
const { createIpcCallHandler, isOwnMainFrame } = await import('../../electron/ipc-router');

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

function fakePort(name: string): MessagePortMain & { closed: boolean } {
  const port = {
    name,
    closed: false,
    close: () => {
      port.closed = true;
    },
  };
  return port as unknown as MessagePortMain & { closed: boolean };
}

/** A fake BrowserWindow and channel that record what the compute window does with them. */
function fakeFactory() {
  const contents = Object.assign(new EventEmitter(), { posted: [] as { channel: string; message: unknown; transfer: MessagePortMain[] }[] });
  const window = {
    options: undefined as unknown,
    loaded: [] as string[],
    destroyed: false,
    webContents: Object.assign(contents, {
      postMessage(channel: string, message: unknown, transfer: MessagePortMain[]) {
        contents.posted.push({ channel, message, transfer });
      },
    }),
    loadURL: async (url: string) => void window.loaded.push(url),
    isDestroyed: () => window.destroyed,
    destroy: () => {
      window.destroyed = true;
    },
  };
  const ports = { port1: fakePort('trainer end'), port2: fakePort('page end') };
  const factory: GpuWindowFactory = {
    window: (options) => {
      window.options = options;
      return window as unknown as GpuWindowLike;
    },
    channel: () => ports,
  };
  return { factory, window, contents, ports };
}

describe('the compute window', () => {
  it('is hidden and locked down like the main window: context isolation, sandbox, no Node, no devtools, not throttled', () => {
    const options = gpuWindowOptions('/app/out/preload/gpu-preload.cjs');
    expect(options.show).toBe(false);
    expect(options.webPreferences).toEqual({
      preload: '/app/out/preload/gpu-preload.cjs',
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      spellcheck: false,
      devTools: false,
      backgroundThrottling: false,
    });
  });

  it('loads app://gpu-host/ and hands its page the port only once it has loaded; a crashed renderer ends it', () => {
    const { factory, window, contents, ports } = fakeFactory();
    const opened = openGpuWindow('/preload.cjs', factory);
    expect(opened.port).toBe(ports.port1);
    expect(window.options).toEqual(gpuWindowOptions('/preload.cjs'));
    expect(window.loaded).toEqual([`${gpuHostOrigin}/index.html`]);
    expect(contents.posted).toEqual([]);
    contents.emit('did-finish-load');
    expect(contents.posted).toEqual([{ channel: gpuHostPortChannel, message: null, transfer: [ports.port2] }]);
    contents.emit('render-process-gone', {}, { reason: 'crashed' });
    expect(window.destroyed).toBe(true);
    expect(ports.port2.closed).toBe(true);
  });
});

/** A fake utility process: records what it was sent and with which ports. */
function fakeUtilityChild(): UtilityChild & { sent: { message: unknown; transfer?: MessagePortMain[] }[]; emitter: EventEmitter } {
  const emitter = new EventEmitter();
  const sent: { message: unknown; transfer?: MessagePortMain[] }[] = [];
  return {
    pid: 78,
    stderr: null,
    sent,
    emitter,
    postMessage: (message: unknown, transfer?: MessagePortMain[]) => void sent.push(transfer ? { message, transfer } : { message }),
    on: ((event: string, listener: (...args: unknown[]) => void) => emitter.on(event, listener)) as UtilityChild['on'],
    kill: () => emitter.emit('exit', 1) || true,
  };
}

describe('the utility-process launcher with the compute window', () => {
  function launch(openGpuHost?: () => GpuWindow): { child: ReturnType<typeof fakeUtilityChild>; channel: ChildChannel; received: unknown[] } {
    const child = fakeUtilityChild();
    const fork: UtilityFork = () => child;
    const channel = utilityLauncher(fork, openGpuHost)('/app/out/main/trainer-process.js');
    const received: unknown[] = [];
    channel.onMessage((message) => received.push(message));
    return { child, channel, received };
  }

  it('opens one window for a process that asks, sends it the port (not the trainer host), and closes it when the process exits', () => {
    const windows: (GpuWindow & { closed: number })[] = [];
    const { child, received } = launch(() => {
      const window = { port: fakePort('trainer end'), closed: 0, close: () => void (window.closed += 1) };
      windows.push(window);
      return window;
    });
    child.emitter.emit('message', { type: gpuHostOpenRequest });
    expect(windows).toHaveLength(1);
    expect(child.sent).toEqual([{ message: { type: gpuHostPortReply }, transfer: [windows[0]!.port] }]);
    // A second request gets no second window.
    child.emitter.emit('message', { type: gpuHostOpenRequest });
    expect(windows).toHaveLength(1);
    expect(child.sent[1]).toEqual({ message: { type: gpuHostPortReply, error: 'this process already has a compute window' } });
    // The trainer's own messages still reach the trainer host; the request does not.
    child.emitter.emit('message', { seq: 1, type: 'ready' });
    expect(received).toEqual([{ seq: 1, type: 'ready' }]);
    child.emitter.emit('exit', 0);
    expect(windows[0]!.closed).toBe(1);
  });

  it('answers with the reason when no window can be opened', () => {
    const none = launch();
    none.child.emitter.emit('message', { type: gpuHostOpenRequest });
    expect(none.child.sent).toEqual([{ message: { type: gpuHostPortReply, error: 'this app has no WebGPU compute window' } }]);
    const failing = launch(() => {
      throw new Error('no display');
    });
    failing.child.emitter.emit('message', { type: gpuHostOpenRequest });
    expect(failing.child.sent).toEqual([{ message: { type: gpuHostPortReply, error: 'no display' } }]);
  });
});

describe('app://gpu-host/', () => {
  it('serves the built compute page with the app\'s CSP, refuses paths out of it, and does not exist without it', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-gpu-protocol-'));
    cleanups.push(() => fs.rmSync(root, { recursive: true, force: true }));
    for (const dir of ['renderer', 'gpu-host']) {
      fs.mkdirSync(path.join(root, dir));
      fs.writeFileSync(path.join(root, dir, 'index.html'), '<!doctype html>');
    }
    serveRenderer(path.join(root, 'renderer'), path.join(root, 'gpu-host'));
    const handler = protocolHandlers.get('app')!;
    const page = await handler(new Request(`${gpuHostOrigin}/index.html`));
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toBe(contentSecurityPolicy);
    expect(contentSecurityPolicy).toMatch(/default-src 'none'.*script-src 'self'/);
    expect((await handler(new Request(`${gpuHostOrigin}/..%2frenderer%2findex.html`))).status).toBe(403);
    expect((await handler(new Request('app://other/index.html'))).status).toBe(404);
    serveRenderer(path.join(root, 'renderer'));
    expect((await protocolHandlers.get('app')!(new Request(`${gpuHostOrigin}/index.html`))).status).toBe(404);
  });
});

describe('IPC from the compute window', () => {
  it('is refused: the router answers only the main window\'s main frame at app://renderer', async () => {
    const mainFrame = { url: 'app://renderer/index.html' };
    const mainContents = { mainFrame } as unknown as Electron.WebContents;
    const gpuFrame = { url: `${gpuHostOrigin}/index.html` };
    const gpuContents = { mainFrame: gpuFrame } as unknown as Electron.WebContents;
    const dispatch = vi.fn(async () => ({ ok: true as const, value: 'answered' }));
    const handle = createIpcCallHandler({ isTrustedSender: (event) => isOwnMainFrame(event, mainContents), dispatch });
    const fromGpu = await handle({ sender: gpuContents, senderFrame: gpuFrame } as never, 'appInfo', {});
    expect(fromGpu).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    // Even the main window showing the compute page (it navigated there) is refused.
    const navigated = { url: `${gpuHostOrigin}/index.html` };
    expect(await handle({ sender: { mainFrame: navigated }, senderFrame: navigated } as never, 'appInfo', {})).toMatchObject({ ok: false });
    expect(dispatch).not.toHaveBeenCalled();
    expect(await handle({ sender: mainContents, senderFrame: mainFrame } as never, 'appInfo', {})).toEqual({ ok: true, value: 'answered' });
  });
});

describe('the compute window\'s preload', () => {
  it('passes the first port from the main process into the page, once, and exposes nothing', () => {
    const renderer = Object.assign(new EventEmitter(), {
      removeAllListeners(channel: string) {
        EventEmitter.prototype.removeAllListeners.call(this, channel);
        return this;
      },
    });
    const target = { postMessage: vi.fn() };
    forwardGpuHostPort(renderer as never, target as never);
    renderer.emit(gpuHostPortChannel, { ports: [] });
    expect(target.postMessage).not.toHaveBeenCalled();
    const port = { name: 'page end' };
    renderer.emit(gpuHostPortChannel, { ports: [port] });
    renderer.emit(gpuHostPortChannel, { ports: [{ name: 'another' }] });
    expect(target.postMessage.mock.calls).toEqual([[gpuHostPortMessage, '*', [port]]]);
  });
});

/** A fake parentPort of a utility process, and a fake MessagePortMain. */
function fakeParent(): ParentPortLike & { sent: unknown[]; emitter: EventEmitter } {
  const emitter = new EventEmitter();
  const sent: unknown[] = [];
  return { sent, emitter, postMessage: (message) => void sent.push(message), on: ((event: string, listener: (...args: unknown[]) => void) => emitter.on(event, listener)) as ParentPortLike['on'] };
}

function fakeMainPort(): MainPortLike & { sent: unknown[]; emitter: EventEmitter; started: boolean } {
  const emitter = new EventEmitter();
  const port = {
    sent: [] as unknown[],
    emitter,
    started: false,
    postMessage: (message: unknown) => void port.sent.push(message),
    on: ((event: string, listener: (...args: unknown[]) => void) => emitter.on(event, listener)) as MainPortLike['on'],
    start: () => {
      port.started = true;
    },
    close: () => void emitter.emit('close'),
  };
  return port;
}

describe('the trainer\'s way to the compute window', () => {
  it('asks the main process once, and talks to the host over the port it gets', async () => {
    const parent = fakeParent();
    const connect = parentGpuHost(parent, '45.4.1')!;
    const first = connect();
    expect(connect()).toBe(first);
    expect(parent.sent).toEqual([{ type: gpuHostOpenRequest }]);
    const port = fakeMainPort();
    parent.emitter.emit('message', { data: { seq: 1, type: 'start' } });
    parent.emitter.emit('message', { data: { type: gpuHostPortReply }, ports: [port] });
    const client = await first;
    expect(port.started).toBe(true);
    const memory = client.request({ type: 'memory' });
    expect(port.sent).toEqual([{ type: 'memory', seq: 1 }]);
    port.emitter.emit('message', { data: { seq: 1, type: 'result', re: 1, result: { numTensors: 3, numBytes: 12 } } });
    expect(await memory).toEqual({ numTensors: 3, numBytes: 12 });
    // The window went away: open requests fail, saying the checkpoint is kept.
    const pending = client.request({ type: 'state' });
    port.emitter.emit('close');
    await expect(pending).rejects.toMatchObject({ code: 'HOST_GONE', message: expect.stringMatching(/last checkpoint is kept/) });
  });

  it('fails with the main process\'s reason, and exists only in the desktop app\'s utility processes', async () => {
    const parent = fakeParent();
    const connect = parentGpuHost(parent, '45.4.1')!;
    const connecting = connect();
    parent.emitter.emit('message', { data: { type: gpuHostPortReply, error: 'no display' } });
    await expect(connecting).rejects.toThrow('The desktop app could not open its compute window: no display.');
    expect(parentGpuHost(parent, undefined)).toBeUndefined();
    expect(parentGpuHost(undefined, '45.4.1')).toBeUndefined();
    expect(await computeWindowFor({ chosen: 'wasm' }, '45.4.1')).toBeUndefined();
    expect(await computeWindowFor({ chosen: 'webgpu' }, undefined)).toBeUndefined();
    expect(typeof mainPort(fakeMainPort()).postMessage).toBe('function');
  });

  it('keeps a CPU engine for the process\'s own tensors when webgpu is the compute window\'s', () => {
    const candidates: EngineCandidate[] = [
      { name: 'webgpu', available: true, reason: 'compute window' },
      { name: 'tfjs-node', available: false, reason: 'absent' },
      { name: 'wasm', available: true, reason: 'ok' },
      { name: 'cpu', available: true, reason: 'ok' },
    ];
    expect(localEngine({ chosen: 'webgpu', candidates }, '45.4.1')).toBe('wasm');
    expect(localEngine({ chosen: 'webgpu', candidates }, undefined)).toBe('webgpu');
    expect(localEngine({ chosen: 'cpu', candidates }, '45.4.1')).toBe('cpu');
  });

  it('sets the Chromium switch that enables WebGPU where Chromium keeps it behind one', () => {
    expect(webGpuSwitches('linux', 'x64')).toEqual(['enable-unsafe-webgpu']);
    expect(webGpuSwitches('win32', 'arm64')).toEqual(['enable-unsafe-webgpu']);
    expect(webGpuSwitches('darwin', 'arm64')).toEqual([]);
    expect(webGpuSwitches('win32', 'x64')).toEqual([]);
  });
});
