import crypto from 'node:crypto';
import type { TaskInfo } from '../common/tasks';
import { ServiceError } from '../common/result';
import { appLog, crashDetailsOf, type CrashDetails } from '../log';

/** What a task's body gets: a cancel signal and a way to report progress. */
export interface TaskContext {
  signal: AbortSignal;
  /** Reports progress; cheap to call often (events are throttled to ~5 a second). */
  progress(done: number, total?: number, message?: string, counts?: Record<string, number>): void;
  /**
   * Says the work is paused (no ETA while paused) or goes on again; the time paused never
   * counts in the rate, so the ETA after a pause is as before it.
   */
  paused?(on: boolean): void;
}

export interface TaskOptions {
  kind: string;
  title: string;
  unit: string;
  total?: number;
}

/** Throws the standard error when a task was cancelled; call between units of work. */
export function throwIfCancelled(signal: AbortSignal): void {
  if (signal.aborted) throw new TaskCancelled();
}

/** Thrown inside a task body to end it as cancelled rather than failed. */
export class TaskCancelled extends Error {
  constructor() {
    super('cancelled');
    this.name = 'TaskCancelled';
  }
}

interface Entry {
  info: TaskInfo;
  controller: AbortController;
  lastEmit: number;
  /** Smoothed rate inputs. */
  lastDone: number;
  lastTime: number;
  done: Promise<void>;
}

/**
 * Runs long work as tasks and reports them through `emit` (the event hub's `task` event):
 * counts, a smoothed rate and an ETA, throttled to about 5 updates a second, always with a
 * final update. Finished tasks stay listed until `retainMs` has passed.
 */
export class TaskRegistry {
  private readonly tasks = new Map<string, Entry>();

  constructor(
    private readonly emit: (info: TaskInfo) => void,
    private readonly now: () => number = () => performance.now(),
    private readonly retainMs = 10 * 60_000,
  ) {}

  /** Starts `body` as a task; returns its info at once (the work goes on in the background). */
  start(options: TaskOptions, body: (context: TaskContext) => Promise<void>): TaskInfo {
    const id = crypto.randomUUID();
    const controller = new AbortController();
    const info: TaskInfo = {
      id,
      kind: options.kind,
      title: options.title,
      status: 'running',
      done: 0,
      total: options.total,
      unit: options.unit,
      startedAt: new Date().toISOString(),
    };
    const entry: Entry = { info, controller, lastEmit: 0, lastDone: 0, lastTime: this.now(), done: Promise.resolve() };
    this.tasks.set(id, entry);
    const context: TaskContext = {
      signal: controller.signal,
      progress: (done, total, message, counts) => this.progress(entry, done, total, message, counts),
      paused: (on) => this.setPaused(entry, on),
    };
    this.emit({ ...info });
    entry.done = body(context).then(
      () => this.end(entry, controller.signal.aborted ? 'cancelled' : 'finished'),
      (error: unknown) =>
        this.end(
          entry,
          error instanceof TaskCancelled || controller.signal.aborted ? 'cancelled' : 'failed',
          error instanceof TaskCancelled ? undefined : ((error as Error)?.message ?? String(error)),
          crashDetailsOf(error),
        ),
    );
    return { ...info };
  }

  /** Asks a running task to stop; it ends as 'cancelled' at its next check. */
  cancel(id: string): TaskInfo {
    const entry = this.tasks.get(id);
    if (!entry) throw new ServiceError('NOT_FOUND', `No task with id ${id}.`);
    if (entry.info.status === 'running') entry.controller.abort();
    return { ...entry.info };
  }

  /** Every running task and the recently ended ones, newest first. */
  list(): TaskInfo[] {
    this.prune();
    return [...this.tasks.values()].map((entry) => ({ ...entry.info })).reverse();
  }

  /** Resolves when the task has ended (tests, shutdown). */
  async settled(id: string): Promise<TaskInfo> {
    const entry = this.tasks.get(id);
    if (!entry) throw new ServiceError('NOT_FOUND', `No task with id ${id}.`);
    await entry.done;
    return { ...entry.info };
  }

  /** Cancels every running task and waits for them to end. */
  async cancelAll(): Promise<void> {
    for (const entry of this.tasks.values()) if (entry.info.status === 'running') entry.controller.abort();
    await Promise.all([...this.tasks.values()].map((entry) => entry.done));
  }

  private setPaused(entry: Entry, on: boolean): void {
    const info = entry.info;
    if (info.status !== 'running' || (info.paused ?? false) === on) return;
    if (on) {
      info.paused = true;
      delete info.etaSeconds;
    } else {
      delete info.paused;
      // The rate starts again from here: the pause is not time spent working.
      entry.lastDone = info.done;
      entry.lastTime = this.now();
    }
    entry.lastEmit = this.now();
    this.emit({ ...info });
  }

  private progress(
    entry: Entry,
    done: number,
    total: number | undefined,
    message: string | undefined,
    counts: Record<string, number> | undefined,
  ): void {
    if (entry.info.status !== 'running') return;
    const now = this.now();
    const info = entry.info;
    info.done = done;
    if (total !== undefined) info.total = total;
    if (message !== undefined) info.message = message;
    if (counts !== undefined) info.counts = { ...counts };
    const elapsed = (now - entry.lastTime) / 1000;
    if (elapsed >= 0.5) {
      const instant = (done - entry.lastDone) / elapsed;
      info.rate = info.rate === undefined ? instant : 0.7 * info.rate + 0.3 * instant;
      entry.lastDone = done;
      entry.lastTime = now;
    }
    if (info.rate && info.total !== undefined && !info.paused) info.etaSeconds = Math.max(0, (info.total - done) / info.rate);
    if (now - entry.lastEmit >= 200) {
      entry.lastEmit = now;
      this.emit({ ...info });
    }
  }

  private end(entry: Entry, status: TaskInfo['status'], error?: string, crash: CrashDetails = {}): void {
    entry.info.status = status;
    entry.info.endedAt = new Date().toISOString();
    entry.info.etaSeconds = status === 'finished' ? 0 : undefined;
    delete entry.info.paused;
    if (error) entry.info.error = error;
    if (status === 'failed') {
      Object.assign(entry.info, crash);
      appLog('warn', 'task', `${entry.info.kind} "${entry.info.title}" failed: ${error ?? 'no message'}${crash.crashReport ? ` (crash report ${crash.crashReport})` : ''}`);
    }
    this.emit({ ...entry.info });
  }

  private prune(): void {
    const cutoff = Date.now() - this.retainMs;
    for (const [id, entry] of this.tasks) {
      if (entry.info.endedAt && Date.parse(entry.info.endedAt) < cutoff) this.tasks.delete(id);
    }
  }
}
