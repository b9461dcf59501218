import fs from 'node:fs';
import type { Command } from 'commander';
import type { EmbeddingSource } from '../common/embeddings';
import { resolvePretrainConfig, type PresetName } from '../common/pretrain-config';
import type { RunInfo } from '../common/runs';
import type { TaskInfo } from '../common/tasks';
import { startCore, type Core } from '../core';
import { JigCluTrainer } from '../engine/jigclu/trainer';
import { followTask } from './progress';

/**
 * What the computing commands (embed, cluster, finetune) share to work through the same core
 * services as the app: the core on the data folder, the run a checkpoint argument belongs to,
 * and a task followed to its end.
 */

/** The program's --data-dir. */
export function dataDirOf(program: Command): string {
  return program.opts<{ dataDir: string }>().dataDir;
}

/** Opens the core on `dataDir` for one command and closes it after (cancelling what is left). */
export async function withCore<T>(dataDir: string, work: (core: Core) => Promise<T>): Promise<T> {
  const core = startCore({ dataDir, mode: 'cli', library: { autoThumbnails: false } });
  try {
    return await work(core);
  } finally {
    await core.tasks.cancelAll();
    core.close();
  }
}

/**
 * The backbone a checkpoint file gives, as the app names it: its run (recorded now when the
 * database has none, see RunsService.holderOf) and step, or with `randomInit` that run's
 * architecture untrained.
 */
export function checkpointSource(core: Core, checkpoint: string, randomInit: boolean): { run: RunInfo; source: EmbeddingSource } {
  const { config, position } = JigCluTrainer.readMetadata(fs.readFileSync(checkpoint));
  const { run, step } = core.services.runs.holderOf(checkpoint, { config, step: position.globalStep, epoch: position.epoch });
  return { run, source: randomInit ? { kind: 'random', runId: run.id } : { kind: 'checkpoint', runId: run.id, step } };
}

/** A random-init backbone of a preset's architecture, when no checkpoint is given: a run recorded for it (see RunsService.architectureRun). */
export function randomInitSource(core: Core, preset: PresetName): { run: RunInfo; source: EmbeddingSource } {
  const run = core.services.runs.architectureRun(resolvePretrainConfig(preset));
  return { run, source: { kind: 'random', runId: run.id } };
}

/** Follows a task with its progress bar; a failure throws, a cancel (Ctrl+C) throws saying what is kept. */
export async function finishTask(core: Core, task: TaskInfo, kept: string): Promise<void> {
  const final = await followTask(core.hub, core.tasks, task);
  if (final.status === 'failed') throw new Error(final.error ?? `${task.title} failed`);
  if (final.status === 'cancelled') throw new Error(`Cancelled: ${kept}`);
}
