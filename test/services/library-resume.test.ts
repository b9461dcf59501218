import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FolderInfo, Problem } from '../../main/common/library';
import { databasePath } from '../../main/paths';
import { buildCli, removeBuiltCli } from '../helpers/build-cli';
import { dataset, waitFor } from '../helpers/library';

/**
 * Crash safety of imports: `jigclu import` is killed with SIGKILL in the middle of importing
 * cifar10-dev (4000 images) and run again; the library it ends with equals the one an
 * uninterrupted import makes, row for row, and the second run decodes only what the first had
 * not committed.
 */

let cli: string;
let work: string;

beforeAll(async () => {
  cli = await buildCli();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-resume-'));
}, 120_000);

afterAll(() => {
  if (cli) removeBuiltCli(cli);
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `jigclu --data-dir <dataDir> import <folder> ...`; `onStart` may kill it. */
function runImport(dataDir: string, folder: string, extra: string[], onStart?: (kill: () => void) => void): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, '--data-dir', dataDir, 'import', folder, '--no-thumbnails', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
    onStart?.(() => child.kill('SIGKILL'));
  });
}

/** Committed images in a data folder's database (0 while it does not exist yet). */
function committedImages(dataDir: string): number {
  const file = databasePath(dataDir);
  if (!fs.existsSync(file)) return 0;
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { fileMustExist: true });
    return db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'images'").pluck().get() ? (db.prepare('SELECT count(*) FROM images').pluck().get() as number) : 0;
  } catch {
    return 0;
  } finally {
    db?.close();
  }
}

/** What the library holds, without ids of rows or clock times. */
function libraryState(dataDir: string): Record<string, unknown[]> {
  const db = new Database(databasePath(dataDir), { readonly: true });
  try {
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    return {
      folders: db.prepare('SELECT id, path, name, min_side, max_pixels, labels_from_folders, scan_status FROM folders ORDER BY id').all(),
      images: db
        .prepare(
          `SELECT id, folder_id, rel_path, size, mtime_ms, width, height, format, content_hash, copies, folder_class, note, thumb_state
           FROM images ORDER BY id`,
        )
        .all(),
      rejected: db.prepare('SELECT folder_id, rel_path, size, mtime_ms, kind, reason FROM rejected_files ORDER BY folder_id, rel_path').all(),
      classes: db.prepare('SELECT name FROM classes ORDER BY name').all(),
      labels: db.prepare('SELECT image_id, class_id, source FROM labels ORDER BY image_id, source').all(),
    };
  } finally {
    db.close();
  }
}

describe('an import killed mid-way', () => {
  it('resumes without duplicates and ends exactly like an uninterrupted import', async () => {
    const folder = dataset('cifar10-dev');
    const killedDir = path.join(work, 'killed');
    const cleanDir = path.join(work, 'clean');

    // 1. Kill it once some batches are committed (and long before the 4000th image).
    const killed = await runImport(killedDir, folder, [], (kill) => {
      void waitFor(() => committedImages(killedDir) >= 400, 'the first committed batches', 60_000).then(() => {
        kill();
      });
    });
    expect(killed.signal, `the import must be killed, not end by itself:\n${killed.stderr}`).toBe('SIGKILL');
    const committedAtKill = committedImages(killedDir);
    expect(committedAtKill, 'killed mid-way').toBeGreaterThanOrEqual(400);
    expect(committedAtKill, 'killed mid-way').toBeLessThan(4000);
    const interrupted = libraryState(killedDir);
    expect(interrupted.folders).toMatchObject([{ scan_status: 'running' }]);
    // What was committed is a prefix of the file order: no gaps, nothing half-written.
    expect((interrupted.images as { id: number }[]).map((row) => row.id)).toEqual(Array.from({ length: committedAtKill }, (_, i) => i + 1));

    // 2. Run the same command again: it goes on from the last committed batch.
    const resumed = await runImport(killedDir, folder, ['--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const report = JSON.parse(resumed.stdout) as { folder: FolderInfo; problems: Problem[] };
    expect(report.folder).toMatchObject({ images: 4000, rejected: 0, scanStatus: 'finished' });
    expect(report.folder.lastScan).toMatchObject({ imported: 4000 - committedAtKill, unchanged: committedAtKill, decoded: 4000 - committedAtKill, removed: 0 });

    // 3. An uninterrupted import into another data folder.
    const clean = await runImport(cleanDir, folder, ['--json']);
    expect(clean.code, clean.stderr).toBe(0);
    expect((JSON.parse(clean.stdout) as { folder: FolderInfo }).folder.lastScan).toMatchObject({ imported: 4000, decoded: 4000 });

    const after = libraryState(killedDir);
    expect(after.images).toHaveLength(4000);
    expect(after).toEqual(libraryState(cleanDir));
  }, 180_000);
});
