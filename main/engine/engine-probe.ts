import { fork } from 'node:child_process';
import type { EngineName, EngineReport, ThreadSetting } from '../common/engine';

/** Something that reports the engines (the wasm engine started with `threads`); cached by the services. */
export type EngineProbe = (requested: EngineName | 'auto', threads?: ThreadSetting) => Promise<EngineReport>;

/**
 * Probes engines in a child process running `script` (the built probe-process.js), so native
 * libraries load outside the host. In Electron, fork() runs Electron as Node, whose N-API
 * modules (tfjs-node) load there too. Times out after `timeoutMs`.
 */
export function createForkedEngineProbe(script: string, timeoutMs = 60_000): EngineProbe {
  return (requested, threads = 'auto') =>
    new Promise<EngineReport>((resolve, reject) => {
      const child = fork(script, [requested, String(threads)], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr = (stderr + chunk.toString()).slice(-2000);
      });
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`The engine probe did not answer within ${timeoutMs / 1000} s.`));
      }, timeoutMs);
      child.once('message', (message: { ok: boolean; report?: EngineReport; message?: string }) => {
        clearTimeout(timer);
        if (message.ok && message.report) resolve(message.report);
        else reject(new Error(`The engine probe failed: ${message.message ?? 'no report'}`));
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`The engine probe exited with code ${code} before reporting. ${stderr.trim()}`));
      });
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
}
