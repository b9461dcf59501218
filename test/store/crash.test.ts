import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../main/store/db';
import { useTempDirs } from './helpers';

/**
 * Crash safety: a writer process is killed with SIGKILL in the middle of its work (no exit
 * handlers, no close), and the database must reopen intact, holding exactly the committed data.
 */

const repoRoot = path.resolve(import.meta.dirname, '..', '..');
const betterSqlite3 = pathToFileURL(
  createRequire(path.join(repoRoot, 'package.json')).resolve('better-sqlite3'),
).href;

const { tempDir, track } = useTempDirs();
const children: ChildProcess[] = [];

// Registered after useTempDirs, so (hooks run in reverse) the writers die before their folders go.
afterEach(async () => {
  await Promise.all(children.splice(0).map((child) => kill(child)));
});

/** The header every writer script starts with: the database opened the way the app opens it. */
const prelude = `
import fs from 'node:fs';
import Database from ${JSON.stringify(betterSqlite3)};
const db = new Database(process.argv[2]);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
const say = (line) => fs.writeSync(1, line + '\\n');
`;

/** Commits a few rows, then opens a transaction, writes a lot into it and stays inside it forever. */
const UNCOMMITTED_ROWS = 20_000;
const COMMITTED_BY_CHILD = 50;
const insideTransactionScript = `${prelude}
// A tiny page cache, so the open transaction's pages spill into the WAL file before any commit.
db.pragma('cache_size = 8');
const insert = db.prepare('INSERT INTO settings (key, value) VALUES (?, ?)');
for (let i = 0; i < ${COMMITTED_BY_CHILD}; i++) insert.run('child.committed.' + i, JSON.stringify(i));
db.exec('BEGIN');
const padding = 'x'.repeat(200);
for (let i = 0; i < ${UNCOMMITTED_ROWS}; i++) insert.run('uncommitted.' + i, JSON.stringify({ i, padding }));
say('inside');
setInterval(() => {}, 1 << 30);
`;

/** Commits one tiny transaction after another (a row plus a counter) until it is killed. */
const LOOP_ROWS_BEFORE_SIGNAL = 500;
const tightLoopScript = `${prelude}
const insert = db.prepare('INSERT INTO settings (key, value) VALUES (?, ?)');
const count = db.prepare("INSERT INTO settings (key, value) VALUES ('loop.count', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
const step = db.transaction((i) => {
  insert.run('loop.' + String(i).padStart(9, '0'), JSON.stringify(i));
  count.run(JSON.stringify(i + 1));
});
for (let i = 0; ; i++) {
  step(i);
  if (i === ${LOOP_ROWS_BEFORE_SIGNAL}) say('inside');
}
`;

function startWriter(dir: string, script: string, dbFile: string): ChildProcess {
  const scriptFile = path.join(dir, 'writer.mjs');
  fs.writeFileSync(scriptFile, script);
  const child = spawn(process.execPath, [scriptFile, dbFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return child;
}

/** Resolves once the child has printed `line`; rejects if it exits first. */
function waitForLine(child: ChildProcess, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(
      () => reject(new Error(`no "${line}" from the writer within 20 s: ${stderr}`)),
      20_000,
    );
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.split(/\r?\n/).includes(line)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the writer exited (code ${code}, signal ${signal}) before "${line}": ${stderr}`));
    });
  });
}

/** SIGKILLs the child and waits until it is gone; resolves with how it ended. */
function kill(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.kill('SIGKILL');
  });
}

function count(db: Database, pattern: string): number {
  return db.prepare('SELECT count(*) FROM settings WHERE key LIKE ?').pluck().get(pattern) as number;
}

describe('crash safety', () => {
  it('loses an open transaction, and only it, when the writer is killed inside it', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'studio.db');
    const setup = track(openDatabase(file));
    const seed = setup.prepare('INSERT INTO settings (key, value) VALUES (?, ?)');
    setup.transaction(() => {
      for (let i = 0; i < 100; i++) seed.run(`committed.${i}`, JSON.stringify({ i }));
    })();
    setup.close();

    const child = startWriter(dir, insideTransactionScript, file);
    await waitForLine(child, 'inside');
    // The uncommitted pages really reached the disk: the WAL holds frames of the open transaction.
    expect(fs.statSync(`${file}-wal`).size).toBeGreaterThan(100_000);
    const ended = await kill(child);
    expect(ended.code, 'the writer must not exit normally').not.toBe(0);

    const db = track(openDatabase(file));
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(count(db, 'uncommitted.%')).toBe(0);
    expect(count(db, 'committed.%')).toBe(100);
    expect(count(db, 'child.committed.%')).toBe(COMMITTED_BY_CHILD);
    expect(db.prepare("SELECT value FROM settings WHERE key = 'committed.42'").pluck().get()).toBe(
      '{"i":42}',
    );
    // And the reopened database takes writes again.
    db.prepare("INSERT INTO settings (key, value) VALUES ('after.crash', 'true')").run();
    expect(count(db, 'after.crash')).toBe(1);
  });

  it.each([0, 30, 200])(
    'keeps a gapless prefix of small committed transactions when killed %i ms into a tight loop',
    async (delayMs) => {
      const dir = tempDir();
      const file = path.join(dir, 'studio.db');
      track(openDatabase(file)).close();

      const child = startWriter(dir, tightLoopScript, file);
      await waitForLine(child, 'inside');
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      const ended = await kill(child);
      expect(ended.code, 'the writer must not exit normally').not.toBe(0);

      const db = track(openDatabase(file));
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      const rows = db
        .prepare<[], { key: string; value: string }>(
          "SELECT key, value FROM settings WHERE key LIKE 'loop.%' AND key <> 'loop.count' ORDER BY key",
        )
        .all();
      const k = rows.length;
      // Everything committed before the writer announced itself is there...
      expect(k).toBeGreaterThan(LOOP_ROWS_BEFORE_SIGNAL);
      // ...as indexes 0..k-1 with no gaps, each row matching its key...
      expect(rows.map((row) => JSON.parse(row.value) as number)).toEqual(
        Array.from({ length: k }, (_, i) => i),
      );
      expect(rows.every((row) => row.key === `loop.${row.value.padStart(9, '0')}`)).toBe(true);
      // ...and the counter written in the same transactions agrees: no transaction half applied.
      expect(db.prepare("SELECT value FROM settings WHERE key = 'loop.count'").pluck().get()).toBe(String(k));
    },
  );
});
