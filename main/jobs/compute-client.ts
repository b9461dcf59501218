import type { EngineName, EngineReport, ThreadSetting } from '../common/engine';
import { ServiceError } from '../common/result';
import type { ComputeJob, ComputeJobKind, ComputeJobOf, ComputeResults, EmbedChunk } from '../engine/compute/compute-jobs';
import { crashDetailsOf, withCrashDetails } from '../log';
import type { FromTrainer } from './protocol';

/** The part of a trainer host a compute job needs (tests inject an in-process one). */
export interface ComputeHost {
  readonly done: Promise<unknown>;
  on(event: 'message', listener: (message: FromTrainer) => void): unknown;
  runJob(job: ComputeJob, engine: EngineName | 'auto', threads?: ThreadSetting): void;
  kill(graceMs?: number): Promise<unknown>;
}

/**
 * Which engine a job runs on, as the host that asks for it chooses (the command line's
 * --engine and --threads), and who hears the engine its process chose.
 */
export interface JobPlacement {
  /** The engine the job asks for ('auto' follows the settings' engine). */
  engine?: EngineName | 'auto';
  /** The wasm engine's threads (default: the settings'). */
  threads?: ThreadSetting;
  /** Told the engine the job's process chose, once it has started. */
  onEngine?(engine: EngineReport): void;
}

/** The engine a job asks for: the host's choice when it names one, else the run's own. */
export function placedEngine(placement: JobPlacement, own: EngineName | 'auto'): EngineName | 'auto' {
  return placement.engine && placement.engine !== 'auto' ? placement.engine : own;
}

/** How one compute job is run: what it reports back, how it is cancelled, which engine it asks for. */
export interface ComputeJobOptions extends JobPlacement {
  progress?(done: number, total: number): void;
  chunk?(chunk: EmbedChunk): void;
  /** Aborting kills the job's process; the promise rejects with CONFLICT "Cancelled.". */
  signal?: AbortSignal;
}

/**
 * Runs compute jobs (embedding, k-means, maps, classifiers, exports) each in a fresh trainer
 * process, so the main process never loads tfjs. Every service that needs one gets this client
 * from createServices; its answer is typed by the job's kind (ComputeResults).
 */
export class ComputeJobClient {
  /**
   * @param createHost starts the process host of one job (throws when this host has no trainer).
   * @param engineFor the engine a job asks its process for, given the engine it requested.
   * @param threads the wasm engine's thread setting each job's process starts with (read per job: the settings may change).
   */
  constructor(
    private readonly createHost: () => ComputeHost,
    private readonly engineFor: (requested: EngineName | 'auto') => EngineName | 'auto',
    private readonly threads: () => ThreadSetting = () => 'auto',
  ) {}

  /** Runs one job in a fresh process and resolves with its result; rejects with the job's error. */
  runComputeJob<K extends ComputeJobKind>(job: ComputeJobOf<K>, options: ComputeJobOptions = {}): Promise<ComputeResults[K]> {
    const host = this.createHost();
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (action: () => void): void => {
        if (settled) return;
        settled = true;
        action();
      };
      host.on('message', (message) => {
        if (message.type === 'ready') options.onEngine?.(message.engine);
        else if (message.type === 'job-progress') options.progress?.(message.done, message.total);
        else if (message.type === 'job-chunk') options.chunk?.(message.chunk);
        // The trainer ran this job through the runner table typed by ComputeResults.
        else if (message.type === 'job-result') finish(() => resolve(message.result as ComputeResults[K]));
        else if (message.type === 'failed') finish(() => reject(new ServiceError('INTERNAL', message.error.message)));
      });
      void host.done.then((exit) =>
        finish(() =>
          reject(
            withCrashDetails(
              new ServiceError('INTERNAL', `The compute process ended without an answer (${(exit as { message?: string }).message ?? 'no message'}).`),
              crashDetailsOf(exit),
            ),
          ),
        ),
      );
      options.signal?.addEventListener('abort', () => {
        void host.kill();
        finish(() => reject(new ServiceError('CONFLICT', 'Cancelled.')));
      });
      host.runJob(job, this.engineFor(options.engine ?? 'auto'), options.threads ?? this.threads());
    });
  }
}
