import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../main/store/db';
import { buildEntry, removeBuiltCli } from '../helpers/build-cli';
import { repoRoot } from '../helpers/library';

/**
 * A bulk labelling killed with SIGKILL, 30 times, in the real service: a child process runs
 * `labelSet` through the dispatcher (test/helpers/label-writer.ts) on the app's database,
 * relabelling every image of a folder with one class after another, and is killed at a random
 * moment. After each kill the database must reopen intact (integrity_check), hold every image
 * with one and the same hand label (a bulk applies wholly or not at all: 0 partial bulks), and
 * that label must be the last acknowledged bulk's or the one after it (0 acknowledged labels
 * lost). Removing the transaction of LabelsService.setLabels fails this test.
 */

const images = 5_000;
const cycles = 30;

let dir: string;
let writer: string;
let database: string;
let folderId: number;
const classIds: number[] = [];

beforeAll(async () => {
  writer = await buildEntry(path.join(repoRoot, 'test', 'helpers', 'label-writer.ts'), 'label-writer');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-label-kill-'));
  database = path.join(dir, 'jigclu.sqlite');
  const db = openDatabase(database);
  folderId = Number(db.prepare("INSERT INTO folders (path, name, min_side, max_pixels) VALUES ('/synthetic/kill', 'kill', 8, 1000)").run().lastInsertRowid);
  const insert = db.prepare("INSERT INTO images (folder_id, rel_path, size, mtime_ms, width, height, format, content_hash) VALUES (?, ?, 1, 1, 8, 8, 'png', ?)");
  db.transaction(() => {
    for (let i = 0; i < images; i++) insert.run(folderId, `img-${i}.png`, i.toString(16).padStart(64, '0'));
  })();
  for (const name of ['first', 'second', 'third']) classIds.push(Number(db.prepare('INSERT INTO classes (name) VALUES (?)').run(name).lastInsertRowid));
  db.close();
}, 120_000);

afterAll(() => {
  if (writer) removeBuiltCli(writer);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

interface Outcome {
  acks: { bulk: number; classId: number }[];
  signal: NodeJS.Signals | null;
  /** Milliseconds between 'ready' and the kill. */
  killedAfter: number;
}

/** Starts the writer with the classes in `order`; kills it `delayMs` after it is ready (or once `untilAcks` bulks are acknowledged). */
function runWriter(order: number[], delayMs: number, untilAcks?: number): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [writer, database, String(folderId), order.join(',')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let readyAt = 0;
    let killedAt = 0;
    const kill = () => {
      if (killedAt) return;
      killedAt = performance.now();
      child.kill('SIGKILL');
    };
    const acks = () => [...stdout.matchAll(/^ack (\d+) (\d+)$/gm)].map((m) => ({ bulk: Number(m[1]), classId: Number(m[2]) }));
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (!readyAt && /^ready$/m.test(stdout)) {
        readyAt = performance.now();
        if (untilAcks === undefined) setTimeout(kill, delayMs);
      }
      if (untilAcks !== undefined && acks().length >= untilAcks) kill();
    });
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`the writer exited by itself (code ${code}): ${stderr}`));
      else resolve({ acks: acks(), signal, killedAfter: killedAt - readyAt });
    });
  });
}

/** The hand labels of the folder's images: class id -> count, read from a fresh connection (WAL recovery). */
function reopenAndCount(): { integrity: string; counts: Map<number, number> } {
  const db = openDatabase(database);
  try {
    const integrity = db.pragma('integrity_check', { simple: true }) as string;
    const rows = db
      .prepare<[number], { classId: number; n: number }>("SELECT l.class_id AS classId, count(*) AS n FROM labels l JOIN images i ON i.id = l.image_id WHERE i.folder_id = ? AND l.source = 'hand' GROUP BY l.class_id")
      .all(folderId);
    return { integrity, counts: new Map(rows.map((row) => [row.classId, row.n])) };
  } finally {
    db.close();
  }
}

/** The classes starting with the one after `current`, so every bulk changes every label. */
function orderAfter(current: number | undefined): number[] {
  const start = current === undefined ? 0 : (classIds.indexOf(current) + 1) % classIds.length;
  return [...classIds.slice(start), ...classIds.slice(0, start)];
}

describe('labelSet killed with SIGKILL', () => {
  it(`applies each bulk of ${images} labels wholly or not at all and loses no acknowledged one, over ${cycles} kills`, async () => {
    // How long one bulk takes here, so the kills spread over several bulks.
    const calibration = await runWriter(orderAfter(undefined), 0, 3);
    expect(calibration.acks.length).toBeGreaterThanOrEqual(3);
    const bulkMs = calibration.killedAfter / calibration.acks.length;
    let state = reopenAndCount();
    // Killed after its 3rd acknowledgement (perhaps after a 4th commit): every image has one label.
    expect([...state.counts.values()]).toEqual([images]);
    let current = [...state.counts.keys()][0]!;

    const partial: string[] = [];
    const lost: string[] = [];
    const corrupt: string[] = [];
    let unacknowledged = 0;
    for (let cycle = 0; cycle < cycles; cycle++) {
      const order = orderAfter(current);
      const delay = Math.random() * 2.5 * bulkMs;
      const outcome = await runWriter(order, delay);
      state = reopenAndCount();
      const where = `cycle ${cycle} (killed ${outcome.killedAfter.toFixed(0)} ms after ready, ${outcome.acks.length} bulks acknowledged)`;
      if (state.integrity !== 'ok') corrupt.push(`${where}: ${state.integrity}`);
      const entries = [...state.counts];
      if (entries.length !== 1 || entries[0]![1] !== images) {
        partial.push(`${where}: ${entries.map(([id, n]) => `${n} x class ${id}`).join(', ')}`);
        continue;
      }
      const now = entries[0]![0];
      // The last acknowledged bulk's class, or the next bulk's (committed, killed before its ack).
      const lastAck = outcome.acks.at(-1);
      const allowed = lastAck ? [lastAck.classId, order[(lastAck.bulk + 1) % order.length]!] : [current, order[0]!];
      if (!allowed.includes(now)) lost.push(`${where}: class ${now}, expected one of ${allowed.join(', ')}`);
      if (now !== (lastAck?.classId ?? current)) unacknowledged += 1;
      current = now;
    }
    expect(corrupt, 'databases that failed integrity_check').toEqual([]);
    expect(partial, 'partial bulks').toEqual([]);
    expect(lost, 'acknowledged bulks lost').toEqual([]);
    console.log(`label-kill: ${cycles} kills spread over 2.5 bulks of ${bulkMs.toFixed(0)} ms; ${unacknowledged} came between a commit and its acknowledgement`);
  }, 180_000);
});
