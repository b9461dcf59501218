import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startCore, type Core } from '../../main/core';
import { checkpointPath, writeCheckpoint } from '../../main/engine/weights/checkpoints';
import { encodeSafetensors } from '../../main/engine/weights/safetensors';
import type { FromTrainer, StartPretraining } from '../../main/jobs/protocol';
import type { TrainerExit } from '../../main/jobs/trainer-host';
import type { TrainerHandle } from '../../main/jobs/trainer-host';
import { fakeEngineReport } from '../helpers/library';

/**
 * Pretraining runs in the app when storage fails them (issue 17). Continuing a run whose newest
 * checkpoint was cut off (a full disk, a crash mid-write): the damaged one is skipped, renamed
 * .damaged and said in the run's log, and the run goes on from the newest whole checkpoint. A
 * run whose progress cannot be written to the database is stopped with a message, without an
 * exception escaping into the process, and the next run may start. The trainer is a fake that
 * writes checkpoint files and reports them as the real one does.
 */

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

/** A fake trainer: on start it writes checkpoints at `steps`, reports them, then stops. */
function fakeTrainer(starts: Omit<StartPretraining, 'type'>[], steps: number[], stops: string[] = []): TrainerHandle {
  const emitter = new EventEmitter();
  let resolveDone!: (exit: TrainerExit) => void;
  const done = new Promise<TrainerExit>((resolve) => (resolveDone = resolve));
  let seq = 0;
  const send = (message: Omit<FromTrainer, 'seq'>): void => void emitter.emit('message', { ...message, seq: ++seq });
  return {
    done,
    on: (event, listener) => emitter.on(event, listener),
    start(request) {
      starts.push(request);
      setImmediate(() => {
        for (const step of steps) {
          const file = writeCheckpoint(request.runDir, step, encodeSafetensors([{ name: 'w', shape: [2], data: new Float32Array([step, step]) }], { format: 'jigclu-checkpoint-v1' }), 5);
          send({ type: 'checkpoint', checkpoint: { file, kind: 'step', globalStep: step, epoch: 0 } } as Omit<FromTrainer, 'seq'>);
        }
        send({ type: 'finished', status: 'stopped', globalStep: steps.at(-1) ?? 0, epoch: 0, rejected: 0, imageCount: 24 } as Omit<FromTrainer, 'seq'>);
        resolveDone({ kind: 'stopped', globalStep: steps.at(-1) ?? 0 });
      });
    },
    pause: () => undefined,
    resume: () => undefined,
    stop: () => void stops.push('stop'),
    kill: () => done,
  };
}

function openCore(dataDir: string, starts: Omit<StartPretraining, 'type'>[], steps: number[], stops: string[] = []): Core {
  const core = startCore({
    dataDir,
    mode: 'cli',
    probeEngines: async () => fakeEngineReport,
    library: { autoThumbnails: false },
    pretraining: { trainerScript: 'fake-trainer.js', createTrainer: () => fakeTrainer(starts, steps, stops) },
  });
  cleanups.push(() => core.close());
  return core;
}

describe('continuing a run whose newest checkpoint is damaged', () => {
  it('skips it with a message in the run log and resumes from the newest whole one', async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-continue-'));
    cleanups.push(() => fs.rmSync(work, { recursive: true, force: true }));
    const starts: Omit<StartPretraining, 'type'>[] = [];
    const core = openCore(path.join(work, 'data'), starts, [2, 4, 6]);
    const folderId = Number(core.db.prepare("INSERT INTO folders (path, name, min_side, max_pixels) VALUES ('/synthetic/c', 'c', 8, 1000)").run().lastInsertRowid);
    const insert = core.db.prepare("INSERT INTO images (folder_id, rel_path, size, mtime_ms, width, height, format, content_hash) VALUES (?, ?, 1, 1, 8, 8, 'png', ?)");
    for (let i = 0; i < 24; i++) insert.run(folderId, `img-${i}.png`, i.toString(16).padStart(64, '0'));

    const run = await core.handlers.pretrainStart({ preset: 'cpu-small', overrides: { epochs: 5, batch: 8 } });
    for (let i = 0; i < 100 && (await core.handlers.runGet({ runId: run.id, maxPoints: 10 })).status === 'running'; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await core.handlers.runGet({ runId: run.id, maxPoints: 10 })).checkpoints.map((c) => c.step)).toEqual([2, 4, 6]);
    // The run remembers its folders and files (the list `jigclu pretrain --resume` reads too).
    expect(JSON.parse(fs.readFileSync(path.join(run.runDir, 'files.json'), 'utf8'))).toMatchObject({ folders: ['/synthetic/c'], files: expect.arrayContaining([expect.objectContaining({ path: '/synthetic/c/img-0.png', id: 1, size: 1 })]) });

    const newest = checkpointPath(run.runDir, 6);
    fs.truncateSync(newest, 30);
    const continued = await core.handlers.pretrainContinue({ runId: run.id });
    expect(continued.id).toBe(run.id);
    expect(starts.at(-1)?.resumeFrom).toBe(checkpointPath(run.runDir, 4));
    expect(fs.existsSync(`${newest}.damaged`)).toBe(true);
    const log = await core.handlers.runLog({ runId: run.id, lines: 100 });
    expect(log.lines.join('\n')).toMatch(/Skipped the damaged checkpoint at step 6 \(.*cut off\)\. It was renamed step-00000006\.safetensors\.damaged\./);
    expect(log.lines.join('\n')).toMatch(/Continuing from the checkpoint at step 4/);
  });
});

describe('a run whose progress cannot be stored', () => {
  it('is stopped with a message, never takes the process down, and does not block the next run', async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-record-'));
    cleanups.push(() => fs.rmSync(work, { recursive: true, force: true }));
    const starts: Omit<StartPretraining, 'type'>[] = [];
    const stops: string[] = [];
    const core = openCore(path.join(work, 'data'), starts, [2], stops);
    const messages: string[] = [];
    core.hub.subscribe((name, payload) => {
      const message = (payload as { message?: string }).message;
      if (name === 'run' && message) messages.push(message);
    });
    const folderId = Number(core.db.prepare("INSERT INTO folders (path, name, min_side, max_pixels) VALUES ('/synthetic/r', 'r', 8, 1000)").run().lastInsertRowid);
    const insert = core.db.prepare("INSERT INTO images (folder_id, rel_path, size, mtime_ms, width, height, format, content_hash) VALUES (?, ?, 1, 1, 8, 8, 'png', ?)");
    for (let i = 0; i < 24; i++) insert.run(folderId, `img-${i}.png`, i.toString(16).padStart(64, '0'));
    await core.handlers.pretrainStart({ preset: 'cpu-small', overrides: { epochs: 5, batch: 8 } });
    // Before the trainer's first message: every write to the database now fails, as on a full disk.
    core.db.pragma('query_only = ON');
    for (let i = 0; i < 100 && messages.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(messages[0]).toMatch(/^Could not record the run's progress: /);
    expect(stops).toEqual(['stop']);
    core.db.pragma('query_only = OFF');
    const next = await core.handlers.pretrainStart({ preset: 'cpu-small', overrides: { epochs: 5, batch: 8 } });
    expect(next.status).toBe('running');
  });
});
