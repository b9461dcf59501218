import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { err, type Result } from '../../main/common/result';
import { startCore, type Core } from '../../main/core';
import { databasePath } from '../../main/paths';
import { dispatch, httpStatusFor, type Handlers } from '../../main/services/dispatch';
import { builtEntry } from '../helpers/built';
import { dataset, fakeEngineReport } from '../helpers/library';
import { fillDisk, tmpfsForTest } from '../helpers/tmpfs';

/**
 * Storage problems as the services meet them (issue 17): text that is not well-formed is
 * refused at the contract, a UNIQUE violation is a CONFLICT, a full disk is DISK_FULL naming
 * the folder, a read-only data folder still answers the calls that read and refuses the rest
 * with READ_ONLY, and a database found damaged while running is written no more.
 */

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-storage-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function openCore(dataDir: string): Core {
  const core = startCore({ dataDir, mode: 'cli', probeEngines: async () => fakeEngineReport, library: { autoThumbnails: false } });
  cleanups.push(() => core.close());
  return core;
}

/** Adds a folder of `count` synthetic image rows (no files: the calls here only read rows). */
function syntheticImages(core: Core, count: number, padding = 0): number {
  const folderId = Number(core.db.prepare("INSERT INTO folders (path, name, min_side, max_pixels) VALUES ('/synthetic/photos', 'photos', 8, 1000)").run().lastInsertRowid);
  const insert = core.db.prepare("INSERT INTO images (folder_id, rel_path, size, mtime_ms, width, height, format, content_hash, note) VALUES (?, ?, 1, 1, 8, 8, 'png', ?, ?)");
  core.db.transaction(() => {
    for (let i = 0; i < count; i++) insert.run(folderId, `img-${String(i).padStart(6, '0')}.png`, i.toString(16).padStart(64, '0'), padding ? 'n'.repeat(padding) : null);
  })();
  return folderId;
}

function errorOf(result: Result<unknown>): { code: string; message: string } {
  expect(result.ok).toBe(false);
  return (result as { error: { code: string; message: string } }).error;
}

describe('storage error codes over HTTP', () => {
  it('are 409 READ_ONLY, 507 DISK_FULL and 503 DATABASE_CORRUPT, as the README says', () => {
    expect(httpStatusFor(err('READ_ONLY', 'x'))).toBe(409);
    expect(httpStatusFor(err('DISK_FULL', 'x'))).toBe(507);
    expect(httpStatusFor(err('DATABASE_CORRUPT', 'x'))).toBe(503);
  });
});

describe('text and uniqueness at the contract', () => {
  it('refuses a class name with a lone surrogate (INVALID_ARGUMENT), and a repeat is a CONFLICT, never a 500', async () => {
    const core = openCore(path.join(tempDir(), 'data'));
    for (const name of ['bird\uD800', '\uDC00cat', 'a\uDBFFb']) {
      const error = errorOf(await dispatch(core.handlers, 'classCreate', { name }));
      expect(error.code).toBe('INVALID_ARGUMENT');
      expect(error.message).toMatch(/args\.name is not well-formed text/);
    }
    expect(core.db.prepare('SELECT count(*) FROM classes').pluck().get()).toBe(0);
    expect((await dispatch(core.handlers, 'classCreate', { name: 'bird 🐦' })).ok).toBe(true);
    expect(errorOf(await dispatch(core.handlers, 'classCreate', { name: 'bird 🐦' })).code).toBe('CONFLICT');
    const nested = errorOf(await dispatch(core.handlers, 'labelSet', { imageIds: [1], classId: 1, ['\uD834']: 1 }));
    expect(nested.code).toBe('INVALID_ARGUMENT');
  });

  it('answers a UNIQUE violation from SQLite as CONFLICT', async () => {
    const db = new Database(':memory:');
    cleanups.push(() => db.close());
    db.exec('CREATE TABLE things (name TEXT UNIQUE)');
    db.prepare("INSERT INTO things VALUES ('one')").run();
    const handlers = { runRename: () => db.prepare("INSERT INTO things VALUES ('one')").run() } as unknown as Handlers;
    const error = errorOf(await dispatch(handlers, 'runRename', { runId: 1, name: 'x' }));
    expect(error.code).toBe('CONFLICT');
    expect(error.message).toMatch(/things\.name must be unique/);
  });

  it('refuses arguments nested deeper than any call needs', async () => {
    const core = openCore(path.join(tempDir(), 'data'));
    let deep: unknown = 1;
    for (let i = 0; i < 10_000; i++) deep = [deep];
    const error = errorOf(await dispatch(core.handlers, 'settingsSet', { patch: { theme: deep } }));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toMatch(/nested more than/);
  });
});

describe('a database damaged while the app runs', () => {
  it('answers DATABASE_CORRUPT with how to recover, and writes nothing more to the file', async () => {
    const dataDir = path.join(tempDir(), 'data');
    const first = openCore(dataDir);
    syntheticImages(first, 4000, 200);
    first.close();
    cleanups.pop();
    const core = openCore(dataDir);
    const created = await dispatch(core.handlers, 'classCreate', { name: 'bird' });
    const classId = created.ok ? (created.value as { id: number }).id : 0;
    // Pages read at start-up (quick_check) stay in the connection's cache: drop them, so the
    // next read goes to the file, which is damaged behind SQLite's back as a bad disk would.
    core.db.pragma('wal_checkpoint(TRUNCATE)');
    core.db.pragma('cache_size = 8');
    core.db.pragma('shrink_memory');
    const file = databasePath(dataDir);
    const pages = fs.statSync(file).size / 4096;
    const handle = fs.openSync(file, 'r+');
    for (let page = Math.floor(pages * 0.3); page < Math.floor(pages * 0.9); page += 1) fs.writeSync(handle, Buffer.alloc(4096, 0x5a), 0, 4096, page * 4096);
    fs.closeSync(handle);
    const sha = (): string => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex') + (fs.existsSync(`${file}-wal`) ? fs.statSync(`${file}-wal`).size : 0);
    const damagedSha = sha();

    // Labelling every image reads each row: the damaged pages are met, and nothing is written.
    const labelAll = await dispatch(core.handlers, 'labelSet', { imageIds: Array.from({ length: 4000 }, (_, i) => i + 1), classId });
    const error = errorOf(labelAll);
    expect(error.code).toBe('DATABASE_CORRUPT');
    expect(error.message).toContain(file);
    expect(error.message).toMatch(/stopped writing to it\. To recover/);
    // Every later call that would use the database is refused before it runs.
    const write = errorOf(await dispatch(core.handlers, 'settingsSet', { patch: { theme: 'dark' } }));
    expect(write.code).toBe('DATABASE_CORRUPT');
    expect(errorOf(await dispatch(core.handlers, 'classCreate', { name: 'after' })).code).toBe('DATABASE_CORRUPT');
    // And SQLite itself refuses writes on this connection now.
    expect(() => core.db.prepare("INSERT INTO settings (key, value) VALUES ('x', '1')").run()).toThrow();
    expect((await dispatch(core.handlers, 'appInfo', {})).ok).toBe(true);
    expect(sha()).toBe(damagedSha);
  });
});

describe('a full disk', () => {
  it('answers DISK_FULL naming the data folder, loses nothing, and works again once there is space', async (context) => {
    const disk = tmpfsForTest(6 * 1024 * 1024, context, cleanups);
    const dataDir = path.join(disk.dir, 'data');
    const core = openCore(dataDir);
    const folderId = syntheticImages(core, 2000);
    const ids = core.db.prepare('SELECT id FROM images WHERE folder_id = ? ORDER BY id').pluck().all(folderId) as number[];
    const bird = (await dispatch(core.handlers, 'classCreate', { name: 'bird' })) as { ok: true; value: { id: number } };
    expect((await dispatch(core.handlers, 'labelSet', { imageIds: ids.slice(0, 10), classId: bird.value.id })).ok).toBe(true);
    core.db.pragma('wal_checkpoint(TRUNCATE)');
    const filler = fillDisk(disk.dir);

    const error = errorOf(await dispatch(core.handlers, 'labelSet', { imageIds: ids, classId: bird.value.id }));
    expect(error.code).toBe('DISK_FULL');
    expect(error.message).toContain(dataDir);
    expect(error.message).toMatch(/free some space/);
    expect(core.db.prepare("SELECT count(*) FROM labels WHERE source = 'hand'").pluck().get()).toBe(10);

    fs.rmSync(filler);
    expect((await dispatch(core.handlers, 'labelSet', { imageIds: ids, classId: bird.value.id })).ok).toBe(true);
    expect(core.db.prepare("SELECT count(*) FROM labels WHERE source = 'hand'").pluck().get()).toBe(ids.length);
  });
});

describe('a read-only data folder', () => {
  /** A data folder with a library in it, then made read-only (a read-only mount; chmod where not root). */
  async function readOnlyDataFolder(context: { skip: (note?: string) => never }): Promise<string> {
    let dataDir: string;
    let makeReadOnly: () => void;
    if (process.getuid?.() === 0) {
      const disk = tmpfsForTest(16 * 1024 * 1024, context, cleanups);
      dataDir = path.join(disk.dir, 'data');
      makeReadOnly = () => disk.readOnly();
    } else {
      dataDir = path.join(tempDir(), 'data');
      makeReadOnly = () => spawnSync('chmod', ['-R', 'a-w', dataDir]);
      cleanups.push(() => spawnSync('chmod', ['-R', 'u+w', dataDir]));
    }
    const core = startCore({ dataDir, mode: 'cli', probeEngines: async () => fakeEngineReport, library: { autoThumbnails: false } });
    // Real images (no thumbnails made yet) and a class.
    const { task } = await core.handlers.libraryAddFolder({ path: dataset('tiny') });
    expect((await core.tasks.settled(task.id)).status).toBe('finished');
    expect((await dispatch(core.handlers, 'classCreate', { name: 'kept' })).ok).toBe(true);
    core.close();
    makeReadOnly();
    return dataDir;
  }

  it('opens read-only: reading calls answer, the others are refused with READ_ONLY naming the folder', async (context) => {
    const dataDir = await readOnlyDataFolder(context);
    const core = openCore(dataDir);
    const info = await dispatch(core.handlers, 'appInfo', {});
    expect(info.ok && info.value).toMatchObject({ readOnly: true, dataDir });
    const classes = await dispatch(core.handlers, 'libraryClasses', {});
    expect(classes.ok && (classes.value as { name: string }[]).map((entry) => entry.name)).toEqual(['kept']);
    const folders = await dispatch(core.handlers, 'libraryFolders', {});
    expect(folders.ok && (folders.value as unknown[]).length).toBe(1);
    // A thumbnail is made and shown even though it cannot be cached in the data folder.
    const thumbnail = await core.media.open('thumbs', 1, {});
    expect(thumbnail.status).toBe(200);
    for (const [name, args] of [
      ['settingsSet', { patch: { theme: 'dark' } }],
      ['classCreate', { name: 'new' }],
    ] as const) {
      const error = errorOf(await dispatch(core.handlers, name, args));
      expect(error.code, name).toBe('READ_ONLY');
      expect(error.message, name).toContain(dataDir);
    }
  });

  it('lets `jigclu info` run and say so, and `jigclu import` refuse in one sentence', async (context) => {
    const dataDir = await readOnlyDataFolder(context);
    const cli = builtEntry('cli');
    const info = spawnSync(process.execPath, [cli, '--data-dir', dataDir, 'info'], { encoding: 'utf8' });
    expect(info.status, info.stderr).toBe(0);
    expect(info.stdout).toMatch(/read-only/);
    const photos = tempDir();
    // Not empty: an empty folder is refused for that before anything is written.
    fs.writeFileSync(path.join(photos, 'notes.txt'), 'x');
    const imported = spawnSync(process.execPath, [cli, '--data-dir', dataDir, 'import', photos], { encoding: 'utf8' });
    expect(imported.status).toBe(1);
    expect(imported.stderr).toMatch(/is read-only/);
    expect(imported.stderr).not.toMatch(/SQLITE_|attempt to write/);
  });
});
