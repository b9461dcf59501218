import type { IpcMainInvokeEvent } from 'electron';
import { err, type Result } from '../main/common/result';

/** The parts of an IPC event the router looks at (a narrow view so tests can fake it). */
export type IpcCallEvent = Pick<IpcMainInvokeEvent, 'sender' | 'senderFrame'>;

export interface IpcRouterOptions {
  /** True only for our own window's main frame at our own URL. */
  isTrustedSender(event: IpcCallEvent): boolean;
  /** The shared dispatcher: unknown calls and bad arguments come back as errors. */
  dispatch(name: unknown, args: unknown): Promise<Result<unknown>>;
}

/**
 * Builds the handler of the one call channel. Refuses senders that are not our window's main
 * frame, then hands the call to the dispatcher, which refuses unknown calls and validates
 * arguments. Never throws: every failure is returned as `{ ok: false, error }`.
 */
export function createIpcCallHandler(options: IpcRouterOptions) {
  return async (event: IpcCallEvent, name: unknown, args: unknown): Promise<Result<unknown>> => {
    let trusted: boolean;
    try {
      trusted = options.isTrustedSender(event);
    } catch {
      trusted = false;
    }
    if (!trusted) {
      return err('FORBIDDEN', 'Refused: IPC calls are accepted only from the JigClu Studio window itself.');
    }
    return options.dispatch(name, args);
  };
}

/** The origin our renderer is served from inside Electron. */
export const rendererOrigin = 'app://renderer';

/**
 * True when the event comes from `webContents`' main frame showing our renderer; a subframe
 * (an iframe of any origin) or another window is refused.
 */
export function isOwnMainFrame(event: IpcCallEvent, webContents: IpcCallEvent['sender'] | undefined): boolean {
  if (!webContents || event.sender !== webContents) return false;
  const frame = event.senderFrame;
  if (!frame || frame !== webContents.mainFrame) return false;
  return frame.url === rendererOrigin || frame.url.startsWith(`${rendererOrigin}/`);
}
