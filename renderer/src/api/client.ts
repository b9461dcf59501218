import {
  eventMethodName,
  httpCallPrefix,
  httpEventsPath,
  tokenHeader,
  tokenQuery,
  type CallArgs,
  type CallName,
  type CallResult,
  type EventName,
  type EventPayload,
  type PreloadApi,
  type PreloadFiles,
} from '../../../main/common/api-contract';
import { err, isResult, type Result } from '../../../main/common/result';

/** The state of the event connection, for the status bar. */
export type ConnectionState = 'connecting' | 'open' | 'closed';

/** The renderer's one client: the same typed calls and events over IPC or HTTP. */
export interface ApiClient {
  readonly transport: 'ipc' | 'http';
  call<K extends CallName>(name: K, args: CallArgs<K>): Promise<Result<CallResult<K>>>;
  on<K extends EventName>(name: K, listener: (payload: EventPayload<K>) => void): () => void;
  onConnection(listener: (state: ConnectionState) => void): () => void;
}

declare global {
  interface Window {
    jigclu?: PreloadApi;
    jigcluFiles?: PreloadFiles;
  }
}

/** Client over the preload's `window.jigclu` (Electron). */
export function createIpcClient(api: PreloadApi): ApiClient {
  return {
    transport: 'ipc',
    async call(name, args) {
      const method = api[name] as (args: unknown) => Promise<unknown>;
      try {
        const result = await method(args);
        return isResult(result) ? (result as Result<never>) : err('INTERNAL', `${name} returned no result`);
      } catch (error) {
        return err('UNAVAILABLE', `${name} failed to reach the app: ${(error as Error).message}`);
      }
    },
    on(name, listener) {
      const subscribe = api[eventMethodName(name)] as (l: (payload: unknown) => void) => () => void;
      return subscribe(listener as (payload: unknown) => void);
    },
    onConnection(listener) {
      listener('open');
      return () => undefined;
    },
  };
}

/** Reads the per-launch token from the URL (and keeps it for reloads of this tab). */
export function browserToken(location: Location, storage: Storage): string {
  const fromUrl = new URLSearchParams(location.search).get(tokenQuery);
  if (fromUrl) storage.setItem('jigclu.token', fromUrl);
  return fromUrl ?? storage.getItem('jigclu.token') ?? '';
}

/** Client over HTTP calls and a WebSocket event stream (browser mode), reconnecting on loss. */
export function createHttpClient(origin: string, token: string, fetcher: typeof fetch = fetch.bind(globalThis)): ApiClient {
  const listeners = new Map<string, Set<(payload: unknown) => void>>();
  const connectionListeners = new Set<(state: ConnectionState) => void>();
  let state: ConnectionState = 'connecting';
  let socket: WebSocket | undefined;
  let retryMs = 500;

  function setState(next: ConnectionState): void {
    state = next;
    for (const listener of connectionListeners) listener(next);
  }

  function connect(): void {
    const url = new URL(httpEventsPath, origin);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.searchParams.set(tokenQuery, token);
    setState('connecting');
    socket = new WebSocket(url);
    socket.onopen = () => {
      retryMs = 500;
      setState('open');
    };
    socket.onmessage = (message) => {
      try {
        const { event, payload } = JSON.parse(String(message.data)) as { event: string; payload: unknown };
        for (const listener of listeners.get(event) ?? []) listener(payload);
      } catch {
        // A malformed frame is ignored; the stream goes on.
      }
    };
    socket.onclose = () => {
      setState('closed');
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 10_000);
    };
  }

  return {
    transport: 'http',
    async call(name, args) {
      try {
        const response = await fetcher(new URL(`${httpCallPrefix}${name}`, origin), {
          method: 'POST',
          headers: { 'content-type': 'application/json', [tokenHeader]: token },
          body: JSON.stringify({ args }),
        });
        const body: unknown = await response.json();
        return isResult(body) ? (body as Result<never>) : err('INTERNAL', `${name}: unexpected response ${response.status}`);
      } catch (error) {
        return err('UNAVAILABLE', `Could not reach JigClu Studio for ${name}: ${(error as Error).message}`);
      }
    },
    on(name, listener) {
      if (!socket) connect();
      const set = listeners.get(name) ?? new Set();
      listeners.set(name, set);
      set.add(listener as (payload: unknown) => void);
      return () => set.delete(listener as (payload: unknown) => void);
    },
    onConnection(listener) {
      if (!socket) connect();
      connectionListeners.add(listener);
      listener(state);
      return () => connectionListeners.delete(listener);
    },
  };
}

/** The client for wherever the renderer runs: IPC in Electron, HTTP in a browser. */
export function createClient(): ApiClient {
  if (window.jigclu) return createIpcClient(window.jigclu);
  return createHttpClient(window.location.origin, browserToken(window.location, window.sessionStorage));
}
