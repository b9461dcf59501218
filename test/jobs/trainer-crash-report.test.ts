import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { LogsInfo } from '../../main/common/api-contract';
import type { Result } from '../../main/common/result';
import type { RunInfo } from '../../main/common/runs';
import type { TaskInfo } from '../../main/common/tasks';
import { resolvePretrainConfig } from '../../main/common/pretrain-config';
import { startCore, type Core } from '../../main/core';
import { listImageFiles } from '../../main/data/files';
import { TrainerHost } from '../../main/jobs/trainer-host';
import { Logger, logsDir } from '../../main/log';
import { dispatch } from '../../main/services/dispatch';
import { builtEntry } from '../helpers/built';
import { dataset, fakeEngineReport, waitFor } from '../helpers/library';

/**
 * A trainer that dies without a word (SIGKILL from outside, as the OOM killer does) leaves a
 * crash report in <dataDir>/logs with its exit signal and the last lines of its stderr, and the
 * task of the run fails saying so, with the excerpt and the report's path.
 */

const marker = 'crash-test: stderr line from the trainer';
/** Makes the trainer write two known lines to its stderr as it starts. */
const stderrHook = ['--import', `data:text/javascript,${encodeURIComponent(`process.stderr.write(${JSON.stringify(`${marker} 1\n${marker} 2\n`)})`)}`];

const dirs: string[] = [];
let core: Core | undefined;
afterEach(() => {
  core?.close();
  core = undefined;
});
afterAll(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-crash-'));
  dirs.push(dir);
  return dir;
}

describe('trainer crash reports', () => {
  it('writes a crash report with the signal and the stderr excerpt when the trainer is killed from outside', async () => {
    const work = tempDir();
    const logger = new Logger(path.join(work, 'logs'));
    const files = (await listImageFiles(dataset('tiny'))).map((item) => item.file);
    const config = resolvePretrainConfig('cpu-small', { width: 0.125, batch: 4, epochs: 50, engine: 'cpu' });
    const host = new TrainerHost(builtEntry('trainer-process'), { execArgv: stderrHook, logger });
    const training = new Promise<void>((resolve) => host.on('message', (message) => message.type === 'progress' && resolve()));
    host.start({ config, files, runDir: path.join(work, 'run'), engine: 'cpu' });
    await training;
    process.kill(host.pid!, 'SIGKILL');
    const exit = await host.done;
    expect(exit.kind).toBe('crashed');
    if (exit.kind !== 'crashed') return;
    expect(exit.signal).toBe('SIGKILL');
    expect(exit.logExcerpt).toContain(`${marker} 2`);
    expect(exit.crashReport).toMatch(/crash-.*\.log$/);
    expect(path.dirname(exit.crashReport!)).toBe(path.join(work, 'logs'));
    const report = fs.readFileSync(exit.crashReport!, 'utf8');
    expect(report).toContain('signal: SIGKILL');
    expect(report).toContain('exit code: none');
    expect(report).toContain('job: pretraining');
    expect(report).toContain(`${marker} 1\n${marker} 2`);
    expect(fs.readFileSync(path.join(work, 'logs', 'jigclu.log'), 'utf8')).toMatch(/ERROR \[trainer\] The trainer process was killed \(SIGKILL\).*crash report/);
  }, 20_000);

  it('writes no crash report when the app itself kills the trainer', async () => {
    const work = tempDir();
    const logger = new Logger(path.join(work, 'logs'));
    const host = new TrainerHost(builtEntry('trainer-process'), { execArgv: stderrHook, logger });
    const config = resolvePretrainConfig('cpu-small', { width: 0.125, batch: 4, epochs: 50, engine: 'cpu' });
    const files = (await listImageFiles(dataset('tiny'))).map((item) => item.file);
    const ready = new Promise<void>((resolve) => host.on('message', (message) => message.type === 'ready' && resolve()));
    host.start({ config, files, runDir: path.join(work, 'run'), engine: 'cpu' });
    await ready;
    const exit = await host.kill();
    expect(exit).toMatchObject({ kind: 'crashed', signal: 'SIGKILL' });
    expect(exit.kind === 'crashed' && exit.crashReport).toBeFalsy();
    expect(fs.existsSync(path.join(work, 'logs')) ? fs.readdirSync(path.join(work, 'logs')).filter((name) => name.startsWith('crash-')) : []).toEqual([]);
  }, 20_000);

  it('fails the pretraining task with the excerpt and the report, listed by logsInfo', async () => {
    const dataDir = path.join(tempDir(), 'data');
    let host: TrainerHost | undefined;
    const taskEvents: TaskInfo[] = [];
    core = startCore({
      dataDir,
      mode: 'cli',
      probeEngines: async () => fakeEngineReport,
      library: { autoThumbnails: false },
      pretraining: {
        trainerScript: builtEntry('trainer-process'),
        stepDelayMs: 50,
        createTrainer: (script) => (host = new TrainerHost(script, { execArgv: stderrHook })),
      },
    });
    core.hub.subscribe((name, payload) => {
      if (name === 'task') taskEvents.push(payload as TaskInfo);
    });
    const { task: importTask } = await core.handlers.libraryAddFolder({ path: dataset('tiny') });
    expect((await core.tasks.settled(importTask.id)).status).toBe('finished');

    const started = await dispatch(core.handlers, 'pretrainStart', { preset: 'cpu-small', overrides: { epochs: 50, batch: 4, width: 0.125, engine: 'cpu' } });
    expect(started.ok, JSON.stringify(started)).toBe(true);
    const run = (started as { value: RunInfo }).value;
    await waitFor(() => taskEvents.some((t) => t.kind === 'pretrain' && t.done > 0), 'the run to train a step', 15_000);
    process.kill(host!.pid!, 'SIGKILL');
    await waitFor(() => taskEvents.some((t) => t.kind === 'pretrain' && t.status !== 'running'), 'the pretraining task to end', 10_000);

    const failed = taskEvents.find((t) => t.kind === 'pretrain' && t.status !== 'running')!;
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/trainer process was killed \(SIGKILL\)/);
    expect(failed.logExcerpt).toContain(`${marker} 2`);
    expect(failed.crashReport).toMatch(new RegExp(`^${logsDir(dataDir).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*crash-.*\\.log$`));
    expect(fs.readFileSync(failed.crashReport!, 'utf8')).toContain('signal: SIGKILL');
    expect((await core.handlers.runGet({ runId: run.id, maxPoints: 10 })).status).toBe('interrupted');

    const logs = (await dispatch(core.handlers, 'logsInfo', { lines: 50 })) as Result<LogsInfo>;
    expect(logs.ok).toBe(true);
    if (!logs.ok) return;
    expect(logs.value.dir).toBe(logsDir(dataDir));
    expect(logs.value.files.map((f) => f.path)).toEqual(expect.arrayContaining([failed.crashReport, path.join(logsDir(dataDir), 'jigclu.log')]));
    expect(logs.value.tail.some((line) => /INFO {2}\[core\] JigClu Studio .* starting \(cli/.test(line))).toBe(true);
    expect(logs.value.tail.some((line) => /WARN {2}\[task\] pretrain "Pretraining .*" failed: .*crash report/.test(line))).toBe(true);
  }, 20_000);
});
