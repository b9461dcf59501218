import fs from 'node:fs';
import path from 'node:path';
import type { LogFileInfo, LogsInfo } from './common/api-contract';

/**
 * The app's own log: timestamped lines (level, area, message, optional stack) in
 * <dataDir>/logs/jigclu.log, rolled by size to jigclu.1.log ... jigclu.<keep>.log, and one
 * crash-<time>.log per trainer crash. Logging never throws: a folder that cannot be written
 * only loses the lines.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LoggerOptions {
  /** Roll the current file when it would grow past this many bytes (default 5 MB). */
  maxBytes?: number;
  /** Rolled files kept besides the current one (default 5). */
  keep?: number;
  /** Crash reports kept (default 20, oldest removed first). */
  keepCrashReports?: number;
}

/** The log folder of a data folder. */
export function logsDir(dataDir: string): string {
  return path.join(dataDir, 'logs');
}

export const logFileName = 'jigclu.log';

/** What a crash report records about a trainer process that ended unexpectedly. */
export interface CrashReportInput {
  /** What crashed: 'trainer'. */
  area: string;
  /** The sentence shown to the user. */
  message: string;
  code: number | null;
  signal: string | null;
  pid?: number;
  /** What the process was doing: 'pretraining', 'job embed', ... */
  job?: string;
  /** The last lines of its stderr. */
  stderr: string[];
  /** The last lines it logged over IPC. */
  log?: string[];
}

/** Details a failed task carries when a trainer crash caused the failure. */
export interface CrashDetails {
  logExcerpt?: string;
  crashReport?: string;
}

/** Copies crash details onto an error (the task registry reads them back with `crashDetailsOf`). */
export function withCrashDetails<E extends Error>(error: E, details: CrashDetails | undefined): E {
  if (details?.logExcerpt) Object.assign(error, { logExcerpt: details.logExcerpt });
  if (details?.crashReport) Object.assign(error, { crashReport: details.crashReport });
  return error;
}

/** The crash details an error carries, if any. */
export function crashDetailsOf(error: unknown): CrashDetails {
  if (!error || typeof error !== 'object') return {};
  const { logExcerpt, crashReport } = error as Record<string, unknown>;
  return {
    ...(typeof logExcerpt === 'string' && logExcerpt ? { logExcerpt } : {}),
    ...(typeof crashReport === 'string' && crashReport ? { crashReport } : {}),
  };
}

/** Keeps the last `maxLines` lines of a stream (each cut to `maxLineChars`), joining chunks split mid-line. */
export class LineRing {
  private readonly buffer: string[] = [];
  private partial = '';

  constructor(
    private readonly maxLines = 200,
    private readonly maxLineChars = 2000,
  ) {}

  push(chunk: string): void {
    const parts = (this.partial + chunk).split(/\r?\n/);
    this.partial = (parts.pop() ?? '').slice(-this.maxLineChars);
    for (const line of parts) this.add(line);
  }

  /** Adds one whole line. */
  add(line: string): void {
    this.buffer.push(line.length > this.maxLineChars ? `${line.slice(0, this.maxLineChars)}…` : line);
    if (this.buffer.length > this.maxLines) this.buffer.splice(0, this.buffer.length - this.maxLines);
  }

  /** The last `count` lines (all by default), the unfinished one included. */
  lines(count = this.maxLines): string[] {
    const all = this.partial ? [...this.buffer, this.partial] : [...this.buffer];
    return all.slice(-count);
  }

  text(): string {
    return this.lines().join('\n');
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  try {
    return String(error);
  } catch {
    return 'an unprintable error';
  }
}

function fileTime(date: Date): string {
  // ISO time without ':' and '.', which some file systems refuse.
  return date.toISOString().replace(/[:.]/g, '-');
}

export class Logger {
  readonly file: string;
  private readonly maxBytes: number;
  private readonly keep: number;
  private readonly keepCrashReports: number;
  private size?: number;

  constructor(
    readonly dir: string,
    options: LoggerOptions = {},
  ) {
    this.file = path.join(dir, logFileName);
    this.maxBytes = Math.max(1, options.maxBytes ?? 5 * 1024 * 1024);
    this.keep = Math.max(0, Math.floor(options.keep ?? 5));
    this.keepCrashReports = Math.max(1, Math.floor(options.keepCrashReports ?? 20));
  }

  debug(area: string, message: string, error?: unknown): void {
    this.write('debug', area, message, error);
  }

  info(area: string, message: string, error?: unknown): void {
    this.write('info', area, message, error);
  }

  warn(area: string, message: string, error?: unknown): void {
    this.write('warn', area, message, error);
  }

  error(area: string, message: string, error?: unknown): void {
    this.write('error', area, message, error);
  }

  /** Appends one line (and the error's stack, indented). Never throws. */
  write(level: LogLevel, area: string, message: string, error?: unknown): void {
    try {
      let text = `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} [${area}] ${message.replace(/\r?\n/g, ' ')}\n`;
      if (error !== undefined) text += `${describe(error).replace(/^/gm, '    ')}\n`;
      const bytes = Buffer.byteLength(text);
      fs.mkdirSync(this.dir, { recursive: true });
      if (this.size === undefined) this.size = this.currentSize();
      if (this.size > 0 && this.size + bytes > this.maxBytes) this.rotate();
      fs.appendFileSync(this.file, text);
      this.size += bytes;
    } catch {
      // Logging must never take the app down: an unwritable folder only loses the line.
      this.size = undefined;
    }
  }

  /**
   * Writes crash-<time>.log with what is known about a crashed process; returns its path, or
   * undefined when it could not be written.
   */
  crashReport(input: CrashReportInput, now = new Date()): string | undefined {
    try {
      fs.mkdirSync(this.dir, { recursive: true });
      let file = path.join(this.dir, `crash-${fileTime(now)}.log`);
      for (let n = 2; fs.existsSync(file); n += 1) file = path.join(this.dir, `crash-${fileTime(now)}-${n}.log`);
      const lines = [
        `JigClu Studio crash report (${input.area})`,
        `time: ${now.toISOString()}`,
        `message: ${input.message}`,
        `exit code: ${input.code ?? 'none'}`,
        `signal: ${input.signal ?? 'none'}`,
        ...(input.pid !== undefined ? [`pid: ${input.pid}`] : []),
        ...(input.job ? [`job: ${input.job}`] : []),
        `platform: ${process.platform} ${process.arch}, node ${process.versions.node}`,
        '',
        `--- last ${input.stderr.length} lines of stderr ---`,
        ...input.stderr,
        ...(input.log && input.log.length > 0 ? ['', `--- last ${input.log.length} log messages ---`, ...input.log] : []),
        '',
      ];
      fs.writeFileSync(file, lines.join('\n'));
      this.pruneCrashReports();
      this.error(input.area, `${input.message} (code ${input.code ?? 'none'}, signal ${input.signal ?? 'none'}); crash report ${file}`);
      return file;
    } catch {
      return undefined;
    }
  }

  private currentSize(): number {
    try {
      return fs.statSync(this.file).size;
    } catch {
      return 0;
    }
  }

  /** jigclu.log -> jigclu.1.log -> ... -> jigclu.<keep>.log, the oldest dropped. */
  private rotate(): void {
    const rolled = (n: number): string => path.join(this.dir, `jigclu.${n}.log`);
    if (this.keep === 0) {
      fs.rmSync(this.file, { force: true });
    } else {
      fs.rmSync(rolled(this.keep), { force: true });
      for (let n = this.keep - 1; n >= 1; n -= 1) {
        if (fs.existsSync(rolled(n))) fs.renameSync(rolled(n), rolled(n + 1));
      }
      fs.renameSync(this.file, rolled(1));
    }
    this.size = 0;
  }

  private pruneCrashReports(): void {
    const reports = fs
      .readdirSync(this.dir)
      .filter((name) => /^crash-.*\.log$/.test(name))
      .sort();
    for (const name of reports.slice(0, Math.max(0, reports.length - this.keepCrashReports))) {
      fs.rmSync(path.join(this.dir, name), { force: true });
    }
  }
}

/** The log folder's files (newest first) and the last `lines` lines of the current log. */
export function readLogsInfo(dir: string, lines = 200): LogsInfo {
  let files: LogFileInfo[] = [];
  try {
    files = fs
      .readdirSync(dir)
      .filter((name) => name.endsWith('.log'))
      .map((name) => {
        const stat = fs.statSync(path.join(dir, name));
        return { name, path: path.join(dir, name), size: stat.size, modifiedAt: stat.mtime.toISOString() };
      })
      .sort((a, b) => b.modifiedAt.localeCompare(a.modifiedAt) || a.name.localeCompare(b.name));
  } catch {
    // No folder yet: nothing logged.
  }
  return { dir, file: path.join(dir, logFileName), files, tail: tailLines(path.join(dir, logFileName), lines) };
}

/** The last `count` lines of a text file, reading at most its last 1 MB. */
export function tailLines(file: string, count: number): string[] {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const length = Math.min(size, 1024 * 1024);
      const buffer = Buffer.alloc(length);
      fs.readSync(fd, buffer, 0, length, size - length);
      const text = buffer.toString('utf8').replace(/\n$/, '');
      return text ? text.split('\n').slice(-count) : [];
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return [];
  }
}

let current: Logger | undefined;

/** Makes `logger` the one `appLog` writes to (the core sets its own at start-up). */
export function setAppLogger(logger: Logger | undefined): void {
  current = logger;
}

/** The logger the core set, if any. */
export function appLogger(): Logger | undefined {
  return current;
}

/** Writes to the core's log when there is one; a no-op otherwise (tests, a bare CLI). */
export function appLog(level: LogLevel, area: string, message: string, error?: unknown): void {
  current?.write(level, area, message, error);
}
