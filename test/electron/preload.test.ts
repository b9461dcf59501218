import { beforeAll, describe, expect, it, vi } from 'vitest';
import {
  callNames,
  eventMethodName,
  eventNames,
  ipcCallChannel,
  ipcEventChannel,
  type PreloadApi,
} from '../../main/common/api-contract';

type EventCallback = (event: unknown, ...args: unknown[]) => void;

const electronFake = vi.hoisted(() => {
  const exposed = new Map<string, unknown>();
  const channelListeners = new Map<string, ((event: unknown, ...args: unknown[]) => void)[]>();
  return {
    exposed,
    channelListeners,
    exposeInMainWorld: vi.fn((key: string, api: unknown) => {
      exposed.set(key, api);
    }),
    invoke: vi.fn(async (..._args: unknown[]): Promise<unknown> => ({ ok: true, value: 'fake' })),
    getPathForFile: vi.fn((file: { name: string }) => `/dropped/${file.name}`),
    on: vi.fn((channel: string, listener: (event: unknown, ...args: unknown[]) => void) => {
      const list = channelListeners.get(channel) ?? [];
      list.push(listener);
      channelListeners.set(channel, list);
    }),
  };
});

vi.mock('electron', () => ({
  contextBridge: { exposeInMainWorld: electronFake.exposeInMainWorld },
  ipcRenderer: { invoke: electronFake.invoke, on: electronFake.on },
  webUtils: { getPathForFile: electronFake.getPathForFile },
}));

/** Sends an event as the main process would: webContents.send(ipcEventChannel, name, payload). */
function deliver(name: unknown, payload: unknown): void {
  const listeners: EventCallback[] = electronFake.channelListeners.get(ipcEventChannel) ?? [];
  expect(listeners.length).toBeGreaterThan(0);
  for (const listener of listeners) listener({ sender: 'fake ipc event' }, name, payload);
}

let api: Record<string, unknown>;

beforeAll(async () => {
  await import('../../electron/preload');
  expect(electronFake.exposeInMainWorld).toHaveBeenCalledTimes(2);
  api = electronFake.exposed.get('jigclu') as Record<string, unknown>;
});

describe('preload', () => {
  it('exposes the API under jigclu and the path of a dropped file under jigcluFiles, nothing else', () => {
    expect(electronFake.exposeInMainWorld).toHaveBeenCalledWith('jigclu', expect.any(Object));
    expect([...electronFake.exposed.keys()]).toEqual(['jigclu', 'jigcluFiles']);
    const files = electronFake.exposed.get('jigcluFiles') as { pathOf: (file: unknown) => string };
    expect(Reflect.ownKeys(files)).toEqual(['pathOf']);
    expect(Object.isFrozen(files)).toBe(true);
    expect(files.pathOf({ name: 'Pictures' })).toBe('/dropped/Pictures');
    expect(electronFake.getPathForFile).toHaveBeenCalledTimes(1);
    expect(() => files.pathOf('/etc/passwd')).toThrow(TypeError);
    expect(() => files.pathOf(null)).toThrow(TypeError);
    expect(electronFake.getPathForFile).toHaveBeenCalledTimes(1);
  });

  it('exposes exactly one function per call and one onX per event, nothing else', () => {
    const expected = [...callNames, ...eventNames.map((name) => eventMethodName(name))].sort();
    expect(Reflect.ownKeys(api).map(String).sort()).toEqual(expected);
    expect(expected).toContain('settingsGet');
    expect(expected).toContain('onPing');
    expect(expected).toContain('onMenu');
    expect(Object.getOwnPropertySymbols(api)).toEqual([]);
    // A plain object: no inherited methods beyond Object.prototype.
    expect(Object.getPrototypeOf(api)).toBe(Object.prototype);
  });

  it('has only data properties holding functions: no getters, no setters', () => {
    const descriptors = Object.getOwnPropertyDescriptors(api);
    expect(Object.keys(descriptors).length).toBe(callNames.length + eventNames.length);
    for (const [key, descriptor] of Object.entries(descriptors)) {
      expect(descriptor.get, key).toBeUndefined();
      expect(descriptor.set, key).toBeUndefined();
      expect(typeof descriptor.value, key).toBe('function');
    }
  });

  it('is frozen', () => {
    expect(Object.isFrozen(api)).toBe(true);
    expect(() => {
      (api as { extra?: unknown }).extra = () => undefined;
    }).toThrow(TypeError);
  });

  it('sends calls on the one call channel with the name first', async () => {
    electronFake.invoke.mockClear();
    const typed = api as unknown as PreloadApi;
    const result = await typed.settingsGet({});
    expect(electronFake.invoke).toHaveBeenCalledTimes(1);
    expect(electronFake.invoke).toHaveBeenCalledWith(ipcCallChannel, 'settingsGet', {});
    expect(ipcCallChannel).toBe('jigclu:call');
    expect(result).toEqual({ ok: true, value: 'fake' });

    await typed.settingsSet({ patch: { theme: 'dark' } });
    expect(electronFake.invoke).toHaveBeenLastCalledWith('jigclu:call', 'settingsSet', {
      patch: { theme: 'dark' },
    });
  });

  it('listens on the one event channel', () => {
    expect(electronFake.on).toHaveBeenCalledWith('jigclu:event', expect.any(Function));
    expect(ipcEventChannel).toBe('jigclu:event');
  });

  it('delivers an event to its listener until unsubscribed', () => {
    const typed = api as unknown as PreloadApi;
    const onPing = vi.fn();
    const onMenu = vi.fn();
    const unsubscribePing = typed.onPing(onPing);
    const unsubscribeMenu = typed.onMenu(onMenu);
    expect(typeof unsubscribePing).toBe('function');

    deliver('ping', { seq: 1, sentAt: '2024-01-01T00:00:00.000Z' });
    expect(onPing).toHaveBeenCalledTimes(1);
    expect(onPing).toHaveBeenCalledWith({ seq: 1, sentAt: '2024-01-01T00:00:00.000Z' });
    expect(onMenu).not.toHaveBeenCalled();

    unsubscribePing();
    deliver('ping', { seq: 2, sentAt: '2024-01-01T00:00:01.000Z' });
    expect(onPing).toHaveBeenCalledTimes(1);

    deliver('menu', { command: 'about' });
    expect(onMenu).toHaveBeenCalledWith({ command: 'about' });
    unsubscribeMenu();
  });

  it('passes only the payload to listeners, never the Electron event', () => {
    const typed = api as unknown as PreloadApi;
    const onPing = vi.fn();
    const unsubscribe = typed.onPing(onPing);
    deliver('ping', { seq: 3, sentAt: 'x' });
    expect(onPing.mock.calls[0]).toEqual([{ seq: 3, sentAt: 'x' }]);
    unsubscribe();
  });

  it('ignores unknown event names, prototype keys included', () => {
    const typed = api as unknown as PreloadApi;
    const onPing = vi.fn();
    const onMenu = vi.fn();
    const unsubscribePing = typed.onPing(onPing);
    const unsubscribeMenu = typed.onMenu(onMenu);
    expect(() => deliver('evil', { seq: 9 })).not.toThrow();
    expect(() => deliver('__proto__', {})).not.toThrow();
    expect(() => deliver('toString', {})).not.toThrow();
    expect(() => deliver(undefined, {})).not.toThrow();
    expect(onPing).not.toHaveBeenCalled();
    expect(onMenu).not.toHaveBeenCalled();
    unsubscribePing();
    unsubscribeMenu();
  });

  it('refuses a listener that is not a function', () => {
    const subscribe = api.onPing as (listener: unknown) => unknown;
    expect(() => subscribe('not a function')).toThrow(TypeError);
  });
});
