import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import type { ComputeJob } from '../../main/engine/compute/compute-jobs';
import { selectEngine } from '../../main/engine/backend/backend';
import { runComputeJob } from '../../main/engine/compute/compute-runner';
import type { FromTrainer } from '../../main/jobs/protocol';
import type { ComputeHost } from '../../main/jobs/compute-client';
import { startCore, type Core } from '../../main/core';
import { builtEntry, sharedDataset } from './built';
import { fakeEngineReport } from './library';

/** A trainer message without its sequence number (each member of the union on its own). */
type Unsequenced = FromTrainer extends infer M ? (M extends { seq: number } ? Omit<M, 'seq'> : never) : never;

/**
 * A compute host that runs jobs in this process (the trainer process's job loop, without the
 * fork), so a test runs the current sources; `onJob` sees each job before it runs.
 */
export function inProcessHost(onJob: (job: ComputeJob) => void = () => undefined): ComputeHost {
  const events = new EventEmitter();
  let ended!: (value: unknown) => void;
  const done = new Promise((resolve) => (ended = resolve));
  let seq = 0;
  const send = (message: Unsequenced): void => {
    events.emit('message', { seq: seq++, ...message } as FromTrainer);
  };
  return {
    done,
    on(event, listener) {
      events.on(event, listener);
      return this;
    },
    runJob(job, engine) {
      onJob(job);
      void (async () => {
        try {
          // As the trainer process does: the job runs on the engine it was given.
          await selectEngine(engine);
          const result = await runComputeJob(job, {
            progress: (d, total, message) => send({ type: 'job-progress', done: d, total, message }),
            chunk: (chunk) => send({ type: 'job-chunk', chunk }),
          });
          send({ type: 'job-result', result });
        } catch (error) {
          send({ type: 'failed', error: { code: 'TRAINING_FAILED', message: (error as Error).message } });
        }
        ended({ message: 'done' });
      })();
    },
    kill: async () => ended({ message: 'killed' }),
  };
}

/**
 * A core over `<work>/data` whose library holds a copy of ../shared/datasets/tiny
 * (`<work>/pictures`, 24 images in 3 class folders), training in the built trainer process and
 * running compute jobs in this process.
 */
export async function tinyLibraryCore(work: string): Promise<Core> {
  const pictures = path.join(work, 'pictures');
  fs.cpSync(sharedDataset('tiny'), pictures, { recursive: true, filter: (source) => !source.endsWith('SOURCE.txt') });
  const core = startCore({
    dataDir: path.join(work, 'data'),
    mode: 'cli',
    probeEngines: async () => fakeEngineReport,
    library: { autoThumbnails: false },
    pretraining: { trainerScript: builtEntry('trainer-process'), createComputeHost: () => inProcessHost() },
  });
  const { task } = await core.handlers.libraryAddFolder({ path: pictures });
  const ended = await core.tasks.settled(task.id);
  if (ended.status !== 'finished') throw new Error(`importing the tiny library ended ${ended.status}: ${ended.error}`);
  return core;
}
