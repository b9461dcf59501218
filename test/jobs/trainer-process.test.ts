import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolvePretrainConfig } from '../../main/common/pretrain-config';
import { listImageFiles } from '../../main/data/files';
import { TrainerHost } from '../../main/jobs/trainer-host';
import type { FromTrainer } from '../../main/jobs/protocol';
import { JigCluTrainer } from '../../main/engine/jigclu/trainer';
import { latestCheckpoint, listCheckpoints } from '../../main/engine/jigclu/run-pretraining';
import { builtEntry, sharedDataset } from '../helpers/built';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

async function setup() {
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-trainer-'));
  dirs.push(runDir);
  const files = (await listImageFiles(sharedDataset('tiny'))).map((item) => item.file);
  // 24 images, batch 2: 12 steps an epoch; a checkpoint every 2 steps. On wasm (several times
  // faster than cpu; nothing here depends on the engine) a step is quick, so the long epoch keeps
  // "stopped mid-epoch" from depending on how fast the stop request arrives.
  const config = resolvePretrainConfig('cpu-small', { width: 0.125, batch: 2, epochs: 50, checkpointEvery: 2, keepCheckpoints: 2, engine: 'wasm' });
  return { runDir, files, config };
}

/** Starts a trainer and resolves once it has reported `steps` global steps. */
function startUntil(host: TrainerHost, request: Parameters<TrainerHost['start']>[0], steps: number, messages: FromTrainer[]): Promise<void> {
  return new Promise((resolve, reject) => {
    host.on('message', (message) => {
      messages.push(message);
      if (message.type === 'checkpoint' && message.checkpoint.globalStep >= steps) resolve();
    });
    void host.done.then((exit) => reject(new Error(`trainer ended early: ${JSON.stringify(exit)}`)));
    host.start(request);
  });
}

describe('trainer process', () => {
  it('starts the wasm engine on the threads the app asks for', async () => {
    const { config } = await setup();
    const host = new TrainerHost(builtEntry('trainer-process'));
    const messages: FromTrainer[] = [];
    host.on('message', (message) => messages.push(message));
    host.measure({ config: { ...config, engine: 'wasm' }, engine: 'wasm', threads: 2, steps: 1 });
    await host.done;
    const ready = messages.find((m) => m.type === 'ready');
    expect(ready?.type === 'ready' && ready.engine).toMatchObject({ chosen: 'wasm', threads: 2 });
    const measured = messages.find((m) => m.type === 'measured');
    expect(measured?.type === 'measured' && measured.secondsPerStep).toBeGreaterThan(0);
  }, 60_000);

  it('stops cleanly when cancelled mid-epoch, leaving a usable checkpoint', async () => {
    const { runDir, files, config } = await setup();
    const host = new TrainerHost(builtEntry('trainer-process'));
    const messages: FromTrainer[] = [];
    await startUntil(host, { config, files, runDir, engine: 'wasm' }, 3, messages);
    host.stop();
    const exit = await host.done;
    expect(exit.kind).toBe('stopped');
    expect(messages[0]?.type).toBe('ready');
    // Numbered messages: 1, 2, 3, ... with no gap.
    messages.forEach((message, index) => expect(message.seq).toBe(index + 1));
    expect(messages.some((m) => m.type === 'progress' && m.progress.phase === 'training')).toBe(true);
    // The bundle finds out/main/batch-worker.js beside its chunk (a wrong path falls back to
    // making batches between steps, silently but for this line).
    expect(messages.filter((m) => m.type === 'log' && /images ready/.test(m.message)).map((m) => (m.type === 'log' ? m.message : ''))).toEqual([
      expect.stringContaining('batches are made in a worker thread'),
    ]);
    const last = exit.kind === 'stopped' ? exit.lastCheckpoint! : '';
    const { position } = JigCluTrainer.readMetadata(fs.readFileSync(last));
    expect(position.globalStep).toBeGreaterThanOrEqual(3);
    expect(position.stepInEpoch).toBeGreaterThan(0); // mid-epoch
    // It loads and trains on.
    const trainer = JigCluTrainer.deserialize(fs.readFileSync(last), { convGrad: 'fast' });
    expect(trainer.position).toEqual(position);
    trainer.dispose();
    expect(listCheckpoints(runDir).length).toBeLessThanOrEqual(config.keepCheckpoints);
  }, 120_000);

  it('reports SIGKILL as a crash, and the next run resumes from the last checkpoint', async () => {
    const { runDir, files, config } = await setup();
    const host = new TrainerHost(builtEntry('trainer-process'));
    await startUntil(host, { config, files, runDir, engine: 'wasm' }, 4, []);
    const exit = await host.kill();
    expect(exit.kind).toBe('crashed');
    expect(exit.kind === 'crashed' && exit.message).toMatch(/killed \(SIGKILL\).*resume/);

    const checkpoint = latestCheckpoint(runDir)!;
    const before = JigCluTrainer.readMetadata(fs.readFileSync(checkpoint)).position;
    const next = new TrainerHost(builtEntry('trainer-process'));
    const messages: FromTrainer[] = [];
    await startUntil(next, { config, files, runDir, resumeFrom: checkpoint, engine: 'wasm' }, before.globalStep + 1, messages);
    next.stop();
    await next.done;
    const firstCheckpoint = messages.find((m) => m.type === 'checkpoint');
    expect(firstCheckpoint?.type === 'checkpoint' && firstCheckpoint.checkpoint.globalStep).toBeGreaterThan(before.globalStep);
    expect(messages.some((m) => m.type === 'log' && /Resuming from/.test(m.message))).toBe(true);
  }, 120_000);
});
