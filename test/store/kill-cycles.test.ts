import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCore } from '../../main/core';
import { databasePath } from '../../main/paths';
import { dispatch } from '../../main/services/dispatch';
import { openDatabase } from '../../main/store/db';
import { buildEntry, removeBuiltCli } from '../helpers/build-cli';
import { Prng } from '../helpers/fuzz';
import { fakeEngineReport, repoRoot } from '../helpers/library';

/**
 * Kill -9 during bulk labelling, 30 times (issue 17's "Must show"): a writer process
 * (test/helpers/label-writer.ts) labels chunks of images through the contract's labelSet, as
 * the app does, and is killed at a random (seeded) moment. After every kill the database must
 * open as the app opens it (quick_check: corrupt databases 0), every chunk must hold the class
 * of its last acknowledged round, or of the round in flight when the kill came, and never a mix
 * (labels lost 0).
 */

const cycles = 30;
const chunk = 1000;
/** Odd, so that successive rounds on one chunk alternate classes. */
const chunks = 21;

let work: string;
let writer: string;
let classes: [number, number];

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-kill-'));
  writer = await buildEntry(path.join(repoRoot, 'test', 'helpers', 'label-writer.ts'), 'label-writer');
  const core = startCore({ dataDir: work, mode: 'cli', probeEngines: async () => fakeEngineReport, library: { autoThumbnails: false } });
  const folderId = Number(core.db.prepare("INSERT INTO folders (path, name, min_side, max_pixels) VALUES ('/synthetic/kill', 'kill', 8, 1000)").run().lastInsertRowid);
  const insert = core.db.prepare("INSERT INTO images (folder_id, rel_path, size, mtime_ms, width, height, format, content_hash) VALUES (?, ?, 1, 1, 8, 8, 'png', ?)");
  core.db.transaction(() => {
    for (let i = 0; i < chunk * chunks; i++) insert.run(folderId, `img-${i}.png`, i.toString(16).padStart(64, '0'));
  })();
  const created = await Promise.all(['even', 'odd'].map((name) => dispatch(core.handlers, 'classCreate', { name })));
  classes = created.map((result) => (result.ok ? (result.value as { id: number }).id : 0)) as [number, number];
  core.close();
}, 120_000);

afterAll(() => {
  if (writer) removeBuiltCli(writer);
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/** How long one labelSet round took last (the kills are placed inside rounds with it). */
let roundMs = 50;

/**
 * Runs the writer from `firstRound` and kills it with SIGKILL partway (`fraction`) through the
 * round after its `acksBeforeKill`-th acknowledgement; returns the rounds it acknowledged.
 */
function runWriter(firstRound: number, acksBeforeKill: number, fraction: number): Promise<{ acked: number[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [writer, work, String(chunk), String(chunks), String(firstRound), String(classes[0]), String(classes[1])], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let stderr = '';
    let last = 0;
    let acks = 0;
    const killLater = (): void => void setTimeout(() => child.kill('SIGKILL'), Math.round(fraction * roundMs));
    child.stdout.on('data', (data: Buffer) => {
      const before = output;
      output += data.toString();
      const now = performance.now();
      if (!before.includes('ready') && output.includes('ready')) {
        last = now;
        if (acksBeforeKill === 0) killLater();
      }
      const newAcks = (output.match(/^ack /gm) ?? []).length - (before.match(/^ack /gm) ?? []).length;
      for (let i = 0; i < newAcks; i++) {
        acks += 1;
        roundMs = Math.max(1, now - last);
        last = now;
        if (acks === acksBeforeKill) killLater();
      }
    });
    child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
    child.on('error', reject);
    child.on('exit', (_code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`the writer stopped by itself: ${stderr}\n${output}`));
      resolve({ acked: [...output.matchAll(/^ack (\d+)$/gm)].map((match) => Number(match[1])) });
    });
  });
}

describe('kill -9 during bulk labelling', () => {
  it(`loses no acknowledged label and leaves no corrupt database over ${cycles} kill cycles`, async () => {
    const rng = new Prng(30);
    /** The class each chunk must have from its last acknowledged round (undefined: never labelled). */
    const expected = new Map<number, number>();
    const classOf = (round: number): number => classes[round % 2]!;
    let nextRound = 0;
    let lost = 0;
    let mixed = 0;
    let inFlightCommitted = 0;
    for (let cycle = 0; cycle < cycles; cycle++) {
      const { acked } = await runWriter(nextRound, rng.int(3), rng.next() * 1.2);
      for (const round of acked) expected.set(round % chunks, classOf(round));
      const inFlight = acked.length > 0 ? acked.at(-1)! + 1 : nextRound;
      // Opens as the app does: a damaged database would be refused here (quick_check).
      const db = openDatabase(databasePath(work));
      const rows = db.prepare("SELECT image_id, class_id FROM labels WHERE source = 'hand'").all() as { image_id: number; class_id: number }[];
      db.close();
      const found = new Map<number, Map<number, number>>();
      for (const row of rows) {
        const index = Math.floor((row.image_id - 1) / chunk);
        const counts = found.get(index) ?? new Map<number, number>();
        counts.set(row.class_id, (counts.get(row.class_id) ?? 0) + 1);
        found.set(index, counts);
      }
      for (let index = 0; index < chunks; index++) {
        const counts = found.get(index);
        if (counts && (counts.size !== 1 || [...counts.values()][0] !== chunk)) mixed += 1;
        const actual = counts && counts.size === 1 ? [...counts.keys()][0] : undefined;
        const inFlightHere = inFlight % chunks === index ? classOf(inFlight) : undefined;
        if (actual !== expected.get(index)) {
          if (actual !== undefined && actual === inFlightHere) inFlightCommitted += 1;
          else lost += 1;
        }
      }
      expect({ cycle, lost, mixed }).toEqual({ cycle, lost: 0, mixed: 0 });
      // A round that committed without its ack is written again, with the same labels.
      nextRound = inFlight;
    }
    // The writer got work done between the kills.
    expect(nextRound).toBeGreaterThan(cycles / 2);
    const db = openDatabase(databasePath(work));
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
    console.log(`${cycles} kill cycles, ${nextRound} labelSet rounds acknowledged, ${inFlightCommitted} committed in flight: labels lost 0, corrupt databases 0`);
  }, 180_000);
});
