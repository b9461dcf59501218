import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { EngineReport } from '../../main/common/engine';
import type { Result } from '../../main/common/result';
import { startCore, type Core } from '../../main/core';
import { dispatch } from '../../main/services/dispatch';
import {
  createIpcCallHandler,
  isOwnMainFrame,
  rendererOrigin,
  type IpcCallEvent,
} from '../../electron/ipc-router';
import { badSettingsSetArgs, unknownCallNames } from './shared-cases';

const fixedReport: EngineReport = {
  chosen: 'cpu',
  requested: 'auto',
  candidates: [
    { name: 'tfjs-node-gpu', available: false, reason: 'fake: not installed' },
    { name: 'tfjs-node', available: false, reason: 'fake: not installed' },
    { name: 'wasm', available: false, reason: 'fake: failed' },
    { name: 'cpu', available: true, reason: 'fake: works' },
  ],
  probeMs: 1,
};

type FakeFrame = { url: string };
type FakeWebContents = { id: number; mainFrame: FakeFrame };

/** A webContents with its main frame (plain objects; the router compares identities and reads url). */
function fakeWebContents(id: number, url = `${rendererOrigin}/index.html`): FakeWebContents {
  return { id, mainFrame: { url } };
}

function asSender(webContents: FakeWebContents): IpcCallEvent['sender'] {
  return webContents as unknown as IpcCallEvent['sender'];
}

function fakeEvent(sender: FakeWebContents, senderFrame: FakeFrame | null): IpcCallEvent {
  return { sender: asSender(sender), senderFrame } as unknown as IpcCallEvent;
}

function expectErrCode(result: Result<unknown>): string {
  expect(result.ok).toBe(false);
  if (result.ok) throw new Error('expected a failed result');
  return result.error.code;
}

let tempDir: string;
let core: Core;
let ours: FakeWebContents;

beforeEach(() => {
  tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-'));
  core = startCore({
    dataDir: tempDir,
    mode: 'electron',
    probeEngines: async () => fixedReport,
    pingIntervalMs: 50,
  });
  ours = fakeWebContents(1);
});

afterEach(() => {
  core.close();
  fs.rmSync(tempDir, { recursive: true, force: true });
});

/** The router wired as electron/main.ts wires it, with a spy on the dispatcher. */
function wiredHandler() {
  const dispatchSpy = vi.fn((name: unknown, args: unknown) => dispatch(core.handlers, name, args));
  const handle = createIpcCallHandler({
    isTrustedSender: (event) => isOwnMainFrame(event, asSender(ours)),
    dispatch: dispatchSpy,
  });
  return { handle, dispatchSpy };
}

describe('isOwnMainFrame', () => {
  it('accepts our main frame at app://renderer/index.html and at app://renderer', () => {
    expect(isOwnMainFrame(fakeEvent(ours, ours.mainFrame), asSender(ours))).toBe(true);
    const bare = fakeWebContents(2, rendererOrigin);
    expect(isOwnMainFrame(fakeEvent(bare, bare.mainFrame), asSender(bare))).toBe(true);
  });

  it('refuses a subframe of our window, even at our own URL', () => {
    const iframe: FakeFrame = { url: `${rendererOrigin}/index.html` };
    expect(isOwnMainFrame(fakeEvent(ours, iframe), asSender(ours))).toBe(false);
  });

  it('refuses another webContents, even one showing our URL', () => {
    const other = fakeWebContents(2);
    expect(isOwnMainFrame(fakeEvent(other, other.mainFrame), asSender(ours))).toBe(false);
    // Each check stands alone: another sender is refused even with our frame object.
    expect(isOwnMainFrame(fakeEvent(other, ours.mainFrame), asSender(ours))).toBe(false);
  });

  it('refuses our main frame once it shows a foreign URL', () => {
    for (const url of [
      'https://evil.example/',
      'app://renderer.evil.example/index.html',
      'app://rendererx/index.html',
      'file:///index.html',
      'about:blank',
      '',
    ]) {
      const navigated = fakeWebContents(3, url);
      expect(isOwnMainFrame(fakeEvent(navigated, navigated.mainFrame), asSender(navigated)), url).toBe(false);
    }
  });

  it('refuses when there is no window or no frame', () => {
    expect(isOwnMainFrame(fakeEvent(ours, ours.mainFrame), undefined)).toBe(false);
    expect(isOwnMainFrame(fakeEvent(ours, null), asSender(ours))).toBe(false);
  });
});

describe('createIpcCallHandler with the real dispatcher', () => {
  it('passes a call from our main frame to dispatch and returns its result', async () => {
    const { handle, dispatchSpy } = wiredHandler();
    const result = await handle(fakeEvent(ours, ours.mainFrame), 'settingsGet', {});
    expect(result).toEqual({
      ok: true,
      value: { theme: 'system', engine: 'auto', threads: 'auto', confirmBeforeDelete: true },
    });
    expect(dispatchSpy).toHaveBeenCalledWith('settingsGet', {});
  });

  it('answers appInfo in electron mode', async () => {
    const { handle } = wiredHandler();
    const result = await handle(fakeEvent(ours, ours.mainFrame), 'appInfo', {});
    expect(result).toMatchObject({
      ok: true,
      value: { mode: 'electron', dataDir: tempDir, engine: fixedReport },
    });
  });

  it('refuses a call from a subframe with FORBIDDEN without dispatching', async () => {
    const { handle, dispatchSpy } = wiredHandler();
    const result = await handle(fakeEvent(ours, { url: `${rendererOrigin}/index.html` }), 'settingsGet', {});
    expect(expectErrCode(result)).toBe('FORBIDDEN');
    expect(dispatchSpy).not.toHaveBeenCalled();
  });

  it('refuses a call from another webContents with FORBIDDEN', async () => {
    const { handle, dispatchSpy } = wiredHandler();
    const other = fakeWebContents(2);
    const result = await handle(fakeEvent(other, other.mainFrame), 'settingsGet', {});
    expect(expectErrCode(result)).toBe('FORBIDDEN');
    expect(dispatchSpy).not.toHaveBeenCalled();
  });

  it('refuses a call from our main frame at a foreign URL with FORBIDDEN', async () => {
    const { handle, dispatchSpy } = wiredHandler();
    ours.mainFrame.url = 'https://evil.example/';
    const result = await handle(fakeEvent(ours, ours.mainFrame), 'settingsSet', { patch: { theme: 'dark' } });
    expect(expectErrCode(result)).toBe('FORBIDDEN');
    expect(dispatchSpy).not.toHaveBeenCalled();
    // Nothing was written.
    expect(await dispatch(core.handlers, 'settingsGet', {})).toMatchObject({
      ok: true,
      value: { theme: 'system' },
    });
  });

  it('refuses unknown calls through the real dispatcher with UNKNOWN_CALL', async () => {
    const { handle } = wiredHandler();
    for (const name of [...unknownCallNames, 42, null]) {
      const result = await handle(fakeEvent(ours, ours.mainFrame), name, {});
      expect(expectErrCode(result), String(name)).toBe('UNKNOWN_CALL');
    }
  });

  it('refuses bad arguments through the real dispatcher with INVALID_ARGUMENT', async () => {
    const { handle } = wiredHandler();
    const event = fakeEvent(ours, ours.mainFrame);
    for (const [label, args] of badSettingsSetArgs) {
      expect(expectErrCode(await handle(event, 'settingsSet', args)), label).toBe('INVALID_ARGUMENT');
    }
    // Nothing was written.
    expect(await handle(event, 'settingsGet', {})).toEqual({
      ok: true,
      value: { theme: 'system', engine: 'auto', threads: 'auto', confirmBeforeDelete: true },
    });
  });

  it('round-trips settingsSet then settingsGet', async () => {
    const { handle } = wiredHandler();
    const event = fakeEvent(ours, ours.mainFrame);
    expect(await handle(event, 'settingsSet', { patch: { theme: 'dark' } })).toMatchObject({
      ok: true,
      value: { theme: 'dark' },
    });
    expect(await handle(event, 'settingsGet', {})).toMatchObject({ ok: true, value: { theme: 'dark' } });
  });

  it('returns FORBIDDEN, never throws, when isTrustedSender throws', async () => {
    const dispatchSpy = vi.fn((name: unknown, args: unknown) => dispatch(core.handlers, name, args));
    const handle = createIpcCallHandler({
      isTrustedSender: () => {
        throw new Error('Object has been destroyed');
      },
      dispatch: dispatchSpy,
    });
    const outcome = await handle(fakeEvent(ours, ours.mainFrame), 'settingsGet', {}).then(
      (result) => ({ settled: 'resolved' as const, result }),
      (error: unknown) => ({ settled: 'rejected' as const, error }),
    );
    expect(outcome.settled).toBe('resolved');
    if (outcome.settled === 'resolved') expect(expectErrCode(outcome.result)).toBe('FORBIDDEN');
    expect(dispatchSpy).not.toHaveBeenCalled();
  });

  it('refuses, through the wired check, a frame whose url getter throws (destroyed frame)', async () => {
    const { handle, dispatchSpy } = wiredHandler();
    const destroyed = {
      get url(): string {
        throw new Error('Render frame was disposed before WebFrameMain could be accessed');
      },
    };
    ours.mainFrame = destroyed;
    const result = await handle(fakeEvent(ours, destroyed), 'settingsGet', {});
    expect(expectErrCode(result)).toBe('FORBIDDEN');
    expect(dispatchSpy).not.toHaveBeenCalled();
  });
});
