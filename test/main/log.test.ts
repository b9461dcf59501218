import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { crashDetailsOf, LineRing, Logger, logsDir, readLogsInfo, tailLines, withCrashDetails } from '../../main/log';
import { TaskRegistry } from '../../main/services/tasks';
import type { TaskInfo } from '../../main/common/tasks';

const dirs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-log-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

describe('logger', () => {
  it('writes timestamped lines with level, area, message and an indented stack', () => {
    const dir = logsDir(tempDir());
    const logger = new Logger(dir);
    logger.info('core', 'started');
    logger.error('call', 'libraryPage failed', new Error('boom'));
    const text = fs.readFileSync(path.join(dir, 'jigclu.log'), 'utf8');
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO {2}\[core\] started$/);
    expect(lines[1]).toMatch(/ERROR \[call\] libraryPage failed$/);
    expect(lines[2]).toBe('    Error: boom');
    expect(lines[3]).toMatch(/^ {4}\s*at /);
  });

  it('rolls the file at the size limit and keeps only `keep` rolled files', () => {
    const dir = tempDir();
    const logger = new Logger(dir, { maxBytes: 1000, keep: 3 });
    const line = 'x'.repeat(150);
    for (let i = 0; i < 60; i += 1) logger.info('test', `${i} ${line}`);
    const names = fs.readdirSync(dir).sort();
    expect(names).toEqual(['jigclu.1.log', 'jigclu.2.log', 'jigclu.3.log', 'jigclu.log']);
    for (const name of names) expect(fs.statSync(path.join(dir, name)).size).toBeLessThanOrEqual(1000);
    // Newest lines in the current file, the ones just before in jigclu.1.log: nothing lost between them.
    const current = fs.readFileSync(path.join(dir, 'jigclu.log'), 'utf8');
    const previous = fs.readFileSync(path.join(dir, 'jigclu.1.log'), 'utf8');
    expect(current).toContain('[test] 59 ');
    const firstCurrent = Number(/\[test\] (\d+) /.exec(current)![1]);
    expect(previous).toContain(`[test] ${firstCurrent - 1} `);
    // A new logger over the same folder goes on from the existing file's size.
    const again = new Logger(dir, { maxBytes: 1000, keep: 3 });
    for (let i = 0; i < 10; i += 1) again.info('test', `again ${i} ${line}`);
    expect(fs.readdirSync(dir).sort()).toEqual(names);
    expect(fs.statSync(path.join(dir, 'jigclu.log')).size).toBeLessThanOrEqual(1000);
  });

  it('never throws when the folder cannot be written, and readLogsInfo answers empty', () => {
    const base = tempDir();
    const file = path.join(base, 'not-a-folder');
    fs.writeFileSync(file, 'x');
    const logger = new Logger(path.join(file, 'logs'));
    expect(() => logger.info('core', 'lost')).not.toThrow();
    expect(() => logger.error('core', 'lost', new Error('again'))).not.toThrow();
    expect(logger.crashReport({ area: 'trainer', message: 'm', code: 1, signal: null, stderr: ['x'] })).toBeUndefined();
    expect(readLogsInfo(path.join(file, 'logs'))).toMatchObject({ files: [], tail: [] });
  });

  it('writes crash reports with the exit and the stderr lines, keeping the newest few', () => {
    const dir = tempDir();
    const logger = new Logger(dir, { keepCrashReports: 2 });
    const times = [new Date('2026-01-01T10:00:00Z'), new Date('2026-01-01T11:00:00Z'), new Date('2026-01-01T12:00:00Z')];
    const reports = times.map((time, i) =>
      logger.crashReport({ area: 'trainer', message: `crash ${i}`, code: null, signal: 'SIGKILL', pid: 42, job: 'pretraining', stderr: ['line a', `line ${i}`], log: ['INFO step 3'] }, time),
    );
    expect(reports.every((report) => report !== undefined)).toBe(true);
    expect(path.basename(reports[2]!)).toBe('crash-2026-01-01T12-00-00-000Z.log');
    const text = fs.readFileSync(reports[2]!, 'utf8');
    expect(text).toContain('message: crash 2');
    expect(text).toContain('exit code: none');
    expect(text).toContain('signal: SIGKILL');
    expect(text).toContain('line a\nline 2');
    expect(text).toContain('INFO step 3');
    expect(fs.existsSync(reports[0]!)).toBe(false);
    // The main log names the report; logsInfo lists the files and the tail.
    const info = readLogsInfo(dir, 5);
    expect(info.files.map((f) => f.name).sort()).toEqual(['crash-2026-01-01T11-00-00-000Z.log', 'crash-2026-01-01T12-00-00-000Z.log', 'jigclu.log']);
    expect(info.files.every((f) => f.size > 0)).toBe(true);
    expect(info.tail).toHaveLength(3);
    expect(info.tail[2]).toContain(reports[2]!);
  });

  it('tails files and keeps the last lines of a stream in a ring', () => {
    const dir = tempDir();
    const file = path.join(dir, 'a.log');
    fs.writeFileSync(file, 'one\ntwo\nthree\n');
    expect(tailLines(file, 2)).toEqual(['two', 'three']);
    expect(tailLines(path.join(dir, 'missing.log'), 2)).toEqual([]);
    const ring = new LineRing(3, 10);
    ring.push('a\nb');
    ring.push('c\nd\ne\n');
    ring.push('partial');
    expect(ring.lines()).toEqual(['d', 'e', 'partial']);
    ring.add('y'.repeat(20));
    expect(ring.lines(1)).toEqual(['partial']);
    expect(ring.lines()).toEqual(['e', `${'y'.repeat(10)}…`, 'partial']);
  });

  it('a failed task carries the crash details of its error', async () => {
    const seen: TaskInfo[] = [];
    const tasks = new TaskRegistry((info) => seen.push(info));
    const task = tasks.start({ kind: 'pretrain', title: 'Pretraining x', unit: 'steps' }, () =>
      Promise.reject(withCrashDetails(new Error('The trainer process was killed (SIGKILL)'), { logExcerpt: 'last\nlines', crashReport: '/logs/crash-1.log' })),
    );
    const ended = await tasks.settled(task.id);
    expect(ended).toMatchObject({ status: 'failed', error: 'The trainer process was killed (SIGKILL)', logExcerpt: 'last\nlines', crashReport: '/logs/crash-1.log' });
    expect(seen.at(-1)).toMatchObject({ logExcerpt: 'last\nlines' });
    expect(crashDetailsOf(new Error('plain'))).toEqual({});
  });
});
