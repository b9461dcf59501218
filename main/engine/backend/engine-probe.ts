import type { EngineName, EngineReport, ThreadSetting } from '../../common/engine';
import { forkLauncher, type ProcessLauncher } from '../../jobs/launcher';

/** Something that reports the engines (the wasm engine started with `threads`); cached by the services. */
export type EngineProbe = (requested: EngineName | 'auto', threads?: ThreadSetting) => Promise<EngineReport>;

/**
 * Probes engines in a helper process running `script` (the built probe-process.js), so native
 * libraries load outside the host; `launcher` starts it (a Node fork, or Electron's
 * utilityProcess in the desktop app, where N-API modules such as tfjs-node load too). Times out
 * after `timeoutMs`.
 */
export function createForkedEngineProbe(script: string, timeoutMs = 60_000, launcher: ProcessLauncher = forkLauncher): EngineProbe {
  return (requested, threads = 'auto') =>
    new Promise<EngineReport>((resolve, reject) => {
      const child = launcher(script, { args: [requested, String(threads)], stdout: 'ignore', name: 'JigClu Studio engine probe' });
      let stderr = '';
      let settled = false;
      const settle = (action: () => void): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        action();
      };
      child.onStderr((chunk) => {
        stderr = (stderr + chunk).slice(-2000);
      });
      const timer = setTimeout(() => {
        child.kill();
        settle(() => reject(new Error(`The engine probe did not answer within ${timeoutMs / 1000} s.`)));
      }, timeoutMs);
      child.onMessage((raw) => {
        const message = raw as { ok: boolean; report?: EngineReport; message?: string };
        settle(() => (message.ok && message.report ? resolve(message.report) : reject(new Error(`The engine probe failed: ${message.message ?? 'no report'}`))));
      });
      child.onExit((code) => settle(() => reject(new Error(`The engine probe exited with code ${code} before reporting. ${stderr.trim()}`))));
    });
}
