import { EventEmitter } from 'node:events';
import type { ComputeJob } from '../engine/compute/compute-jobs';
import type { EngineName, ThreadSetting } from '../common/engine';
import { appLogger, LineRing, type Logger } from '../log';
import { forkLauncher, type ChildChannel, type ProcessLauncher } from './launcher';
import type { FromTrainer, MeasureSpeed, RunJob, StartPretraining, ToTrainer } from './protocol';

/** How a trainer process ended, as the parent saw it. */
export type TrainerExit =
  | { kind: 'finished' | 'stopped'; lastCheckpoint?: string; globalStep: number }
  /** A measurement or compute job that sent its answer (`measured` or `job-result`) and left. */
  | { kind: 'answered' }
  | { kind: 'failed'; code: string; message: string }
  | {
      kind: 'crashed';
      code: number | null;
      signal: NodeJS.Signals | null;
      message: string;
      stderr: string;
      /** The last lines of its stderr (else of its log), set when it ended without being asked to. */
      logExcerpt?: string;
      /** The crash report written to the log folder, when it ended without being asked to. */
      crashReport?: string;
    };

/** The part of a trainer host the pretraining service uses (tests inject another). */
export interface TrainerHandle {
  readonly done: Promise<TrainerExit>;
  on(event: 'message', listener: (message: FromTrainer) => void): unknown;
  start(request: Omit<StartPretraining, 'type'>): void;
  measure?(request: Omit<MeasureSpeed, 'type'>): void;
  inspect?(request: { id: number; step?: number; count: number }): void;
  readonly pid?: number;
  pause(): void;
  resume(): void;
  stop(): void;
  kill(graceMs?: number): Promise<TrainerExit>;
}

/** Lines of a crashed trainer's output shown to the user. */
export const crashExcerptLines = 30;

export interface TrainerHostEvents {
  message: [FromTrainer];
  exit: [TrainerExit];
}

/**
 * Starts and talks to one trainer process. The parent never dies with it: a crash, a kill or an
 * out-of-memory ends in an `exit` event of kind 'crashed' (or 'failed' with OUT_OF_MEMORY when
 * the trainer could still say so), with the tail of its stderr.
 */
export class TrainerHost extends EventEmitter<TrainerHostEvents> {
  private child?: ChildChannel;
  private seq = 0;
  private lastSeq = 0;
  private outcome?: TrainerExit;
  private readonly stderr = new LineRing(200);
  private readonly logLines = new LineRing(50);
  private killRequested = false;
  private job = '';
  readonly done: Promise<TrainerExit>;
  private resolveDone!: (exit: TrainerExit) => void;

  constructor(
    private readonly script: string,
    private readonly options: { execArgv?: string[]; maxOldSpaceMb?: number; logger?: Logger; launcher?: ProcessLauncher } = {},
  ) {
    super();
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(request: Omit<StartPretraining, 'type'>): void {
    this.launch({ type: 'start', ...request });
  }

  /** Starts the process to time a few training steps; the answer is a `measured` message. */
  measure(request: Omit<MeasureSpeed, 'type'>): void {
    this.launch({ type: 'measure', ...request });
  }

  /** Asks the running trainer for one batch's montages and predictions (answered by an `inspection` message). */
  inspect(request: { id: number; step?: number; count: number }): void {
    this.send({ type: 'inspect', ...request });
  }

  /** Starts the process for one compute job (embedding, k-means, a projection); answers with job-progress/job-chunk/job-result messages. */
  runJob(job: ComputeJob, engine: EngineName | 'auto', threads?: ThreadSetting): void {
    this.launch({ type: 'job', job, engine, threads });
  }

  private launch(first: StartPretraining | MeasureSpeed | RunJob): void {
    if (this.child) throw new Error('This trainer host already started a process.');
    this.job = first.type === 'job' ? `job ${first.job.kind}` : first.type === 'start' ? 'pretraining' : 'measure speed';
    const execArgv = [...(this.options.execArgv ?? []), ...(this.options.maxOldSpaceMb ? [`--max-old-space-size=${this.options.maxOldSpaceMb}`] : [])];
    const child = (this.options.launcher ?? forkLauncher)(this.script, { execArgv, name: `JigClu Studio trainer (${this.job})` });
    this.child = child;
    child.onStderr((chunk) => this.stderr.push(chunk));
    child.onMessage((raw) => {
      const message = raw as FromTrainer;
      if (message.seq !== this.lastSeq + 1) {
        this.emit('message', { seq: message.seq, type: 'log', level: 'warn', message: `trainer messages out of order: ${this.lastSeq} then ${message.seq}` });
      }
      this.lastSeq = message.seq;
      if (message.type === 'finished') this.outcome = { kind: message.status, lastCheckpoint: message.lastCheckpoint, globalStep: message.globalStep };
      // A job's answer is its end: the process exits (code 0) right after it.
      if (message.type === 'job-result' || message.type === 'measured') this.outcome = { kind: 'answered' };
      if (message.type === 'failed') {
        this.outcome = { kind: 'failed', code: message.error.code, message: message.error.message };
        this.logger()?.error('trainer', `${this.job} failed (${message.error.code}): ${message.error.message}`);
      }
      if (message.type === 'log') this.logLines.add(`${message.level.toUpperCase()} ${message.message}`);
      this.emit('message', message);
    });
    child.onExit((code, signal) => {
      const exit: TrainerExit = this.outcome ?? this.crashed(code, signal);
      this.emit('exit', exit);
      this.resolveDone(exit);
    });
    this.send(first);
  }

  pause(): void {
    this.send({ type: 'pause' });
  }

  resume(): void {
    this.send({ type: 'resume' });
  }

  /** Asks for a clean stop: the trainer writes a checkpoint at the next step, then exits. */
  stop(): void {
    this.send({ type: 'stop' });
  }

  /** Kills the process at once (no checkpoint), after `graceMs` for a clean stop if given. */
  async kill(graceMs = 0): Promise<TrainerExit> {
    if (graceMs > 0) {
      this.stop();
      const timer = setTimeout(() => {
        this.killRequested = true;
        this.child?.kill();
      }, graceMs);
      const exit = await this.done;
      clearTimeout(timer);
      return exit;
    }
    this.killRequested = true;
    this.child?.kill();
    return this.done;
  }

  private logger(): Logger | undefined {
    return this.options.logger ?? appLogger();
  }

  /** The exit of a process that ended without a final message; a crash report unless we killed it. */
  private crashed(code: number | null, signal: NodeJS.Signals | null): TrainerExit {
    const message = this.crashMessage(code, signal);
    const exit: TrainerExit = { kind: 'crashed', code, signal, stderr: this.stderr.text().trim().slice(-4000), message };
    if (this.killRequested) return exit;
    const stderr = this.stderr.lines();
    const logged = this.logLines.lines();
    const excerpt = (stderr.some((line) => line.trim()) ? stderr : logged).slice(-crashExcerptLines).join('\n').trim();
    if (excerpt) exit.logExcerpt = excerpt;
    const report = this.logger()?.crashReport({ area: 'trainer', message, code, signal, pid: this.child?.pid, job: this.job, stderr, log: logged });
    if (report) exit.crashReport = report;
    return exit;
  }

  private send(message: ToTrainer extends infer M ? (M extends unknown ? Omit<M, 'seq'> : never) : never): void {
    if (!this.child?.connected) return;
    this.seq += 1;
    this.child.send({ ...message, seq: this.seq });
  }

  private crashMessage(code: number | null, signal: NodeJS.Signals | null): string {
    if (/heap out of memory|Allocation failed|out of memory/i.test(this.stderr.text())) {
      return 'The trainer ran out of memory: lower the batch size or the crop size, then resume from the last checkpoint.';
    }
    if (signal) return `The trainer process was killed (${signal}); resume from the last checkpoint.`;
    return `The trainer process exited unexpectedly with code ${code}; see its log, then resume from the last checkpoint.`;
  }
}
