import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { EngineReport } from '../../main/common/engine';
import type { ChildChannel, ProcessLauncher } from '../../main/jobs/launcher';
import type { FromTrainer } from '../../main/jobs/protocol';
import { TrainerHost } from '../../main/jobs/trainer-host';
import { Logger } from '../../main/log';
import { builtEntry } from '../helpers/built';

/**
 * How the trainer host reads the end of a job (issue 17): a compute job or a measurement that
 * sent its answer and exited with code 0 ended cleanly (no "exited unexpectedly", no crash
 * report); one that exited without an answer is still a crash. The first tests use a fake
 * process (the launcher interface the desktop app's utilityProcess also implements), the last
 * runs a real k-means job in the built trainer.
 */

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function logsFolder(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-host-end-'));
  dirs.push(dir);
  return dir;
}

function crashReports(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((name) => name.startsWith('crash-')) : [];
}

/** A trainer message without its sequence number (the fake numbers them). */
type Payload = FromTrainer extends infer M ? (M extends unknown ? Omit<M, 'seq'> : never) : never;

/** A launcher whose process answers with `script` (messages, then an exit code) once it gets its first message. */
function scriptedLauncher(script: { messages: Payload[]; exitCode: number }): ProcessLauncher {
  return () => {
    const listeners = { message: [] as ((message: unknown) => void)[], exit: [] as ((code: number | null, signal: NodeJS.Signals | null) => void)[] };
    let connected = true;
    const channel: ChildChannel = {
      pid: 4242,
      get connected() {
        return connected;
      },
      send() {
        setImmediate(() => {
          script.messages.forEach((message, index) => listeners.message.forEach((listener) => listener({ ...message, seq: index + 1 })));
          connected = false;
          listeners.exit.forEach((listener) => listener(script.exitCode, null));
        });
      },
      onMessage: (listener) => listeners.message.push(listener),
      onStderr: () => undefined,
      onExit: (listener) => listeners.exit.push(listener),
      kill: () => undefined,
    };
    return channel;
  };
}

describe('the end of a trainer job', () => {
  it('is clean when the job sent its result and the process exited with code 0', async () => {
    const logs = logsFolder();
    const host = new TrainerHost('trainer.js', {
      logger: new Logger(logs),
      launcher: scriptedLauncher({ messages: [{ type: 'job-progress', done: 1, total: 1 }, { type: 'job-result', result: { assignments: [0] } }], exitCode: 0 }),
    });
    host.runJob({ kind: 'pca', features: new Float32Array(4), n: 2, dim: 2 }, 'cpu');
    expect(await host.done).toEqual({ kind: 'answered' });
    expect(crashReports(logs)).toEqual([]);
    expect(fs.existsSync(path.join(logs, 'jigclu.log')) ? fs.readFileSync(path.join(logs, 'jigclu.log'), 'utf8') : '').not.toMatch(/exited unexpectedly/);
  });

  it('is clean after a speed measurement', async () => {
    const logs = logsFolder();
    const engine: EngineReport = { chosen: 'cpu', requested: 'cpu', candidates: [], probeMs: 1 };
    const host = new TrainerHost('trainer.js', { logger: new Logger(logs), launcher: scriptedLauncher({ messages: [{ type: 'measured', secondsPerStep: 0.5, engine }], exitCode: 0 }) });
    host.measure({ config: {} as never, engine: 'cpu' });
    expect(await host.done).toEqual({ kind: 'answered' });
    expect(crashReports(logs)).toEqual([]);
  });

  it('is still a crash, with a report, when the process exits 0 without an answer', async () => {
    const logs = logsFolder();
    const host = new TrainerHost('trainer.js', { logger: new Logger(logs), launcher: scriptedLauncher({ messages: [{ type: 'job-progress', done: 1, total: 2 }], exitCode: 0 }) });
    host.runJob({ kind: 'pca', features: new Float32Array(4), n: 2, dim: 2 }, 'cpu');
    const exit = await host.done;
    expect(exit).toMatchObject({ kind: 'crashed', code: 0 });
    expect(crashReports(logs)).toHaveLength(1);
  });

  it('is clean for a real k-means job in the built trainer process', async () => {
    const logs = logsFolder();
    const host = new TrainerHost(builtEntry('trainer-process'), { logger: new Logger(logs) });
    const features = Float32Array.from({ length: 40 * 4 }, (_, i) => ((i * 7919) % 97) / 97 + (i % 4 === 0 && i < 80 ? 5 : 0));
    const result = new Promise<unknown>((resolve) => host.on('message', (message) => message.type === 'job-result' && resolve(message.result)));
    host.runJob({ kind: 'kmeans', features, n: 40, dim: 4, k: 2, seed: 1, metric: 'euclidean' }, 'cpu');
    expect(await result).toBeTruthy();
    expect(await host.done).toEqual({ kind: 'answered' });
    expect(crashReports(logs)).toEqual([]);
  }, 30_000);
});
