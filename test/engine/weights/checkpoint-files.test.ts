import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileAtomic, type AtomicFileIo } from '../../../main/data/atomic-file';
import { checkpointPath, listCheckpoints, newestUsableCheckpoint, removePartialCheckpoints, writeCheckpoint, CheckpointWriteError } from '../../../main/engine/weights/checkpoints';
import { decodeSafetensors, encodeSafetensors, safetensorsProblem } from '../../../main/engine/weights/safetensors';
import { fillDisk, tmpfsForTest } from '../../helpers/tmpfs';

/**
 * Checkpoints are never left half-written (issue 17): every byte is written even when the
 * disk takes a write in pieces, the file on disk is checked before the rename, the temporary
 * file goes on failure, an older checkpoint is removed only after the new one is verified, and
 * resuming passes over a checkpoint that was cut off. A real full disk is a small tmpfs where
 * this machine lets us mount one.
 */

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

function runFolder(parent = os.tmpdir()): string {
  const dir = fs.mkdtempSync(path.join(parent, 'jigclu-ckpt-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A checkpoint-shaped safetensors file of about `floats` * 4 bytes, its values marking `step`. */
function checkpointBytes(step: number, floats = 20_000): Buffer {
  return encodeSafetensors([{ name: 'w', shape: [floats], data: new Float32Array(floats).fill(step) }], { format: 'jigclu-checkpoint-v1', position: JSON.stringify({ globalStep: step }) });
}

function stepOf(file: string): number {
  return decodeSafetensors(fs.readFileSync(file)).tensors.get('w')!.data[0]!;
}

/** Node's fs with some calls replaced. */
function faultyIo(overrides: Partial<AtomicFileIo>): AtomicFileIo {
  return {
    openSync: (file, flags) => fs.openSync(file, flags),
    writeSync: (fd, buffer, offset, length) => fs.writeSync(fd, buffer, offset, length),
    fsyncSync: (fd) => fs.fsyncSync(fd),
    fstatSync: (fd) => fs.fstatSync(fd),
    closeSync: (fd) => fs.closeSync(fd),
    renameSync: (from, to) => fs.renameSync(from, to),
    rmSync: (file, options) => fs.rmSync(file, options),
    ...overrides,
  };
}

function leftovers(dir: string): string[] {
  return fs.readdirSync(dir).filter((name) => name.endsWith('.tmp'));
}

describe('writing a file atomically', () => {
  it('writes every byte when the disk accepts each write only in part (short writes)', () => {
    const dir = runFolder();
    const data = checkpointBytes(7);
    let calls = 0;
    const io = faultyIo({
      writeSync: (fd, buffer, offset, length) => {
        calls += 1;
        // At most 1000 bytes per call, as a nearly full or a network disk may do.
        return fs.writeSync(fd, buffer, offset, Math.min(length, 1000));
      },
    });
    const file = path.join(dir, 'out.safetensors');
    writeFileAtomic(file, data, io);
    expect(calls).toBeGreaterThan(data.length / 1000 - 1);
    expect(fs.readFileSync(file).equals(data)).toBe(true);
    expect(leftovers(dir)).toEqual([]);
  });

  it('leaves the old file and no temporary when the disk fills up half-way', () => {
    const dir = runFolder();
    const file = path.join(dir, 'out.safetensors');
    fs.writeFileSync(file, checkpointBytes(1));
    let written = 0;
    const io = faultyIo({
      writeSync: (fd, buffer, offset, length) => {
        if (written > 30_000) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
        const count = fs.writeSync(fd, buffer, offset, Math.min(length, 16_000));
        written += count;
        return count;
      },
    });
    expect(() => writeFileAtomic(file, checkpointBytes(2), io)).toThrow(/ENOSPC/);
    expect(stepOf(file)).toBe(1);
    expect(leftovers(dir)).toEqual([]);
  });

  it('refuses to rename a file whose size on disk is not what was written', () => {
    const dir = runFolder();
    const file = path.join(dir, 'out.safetensors');
    fs.writeFileSync(file, checkpointBytes(1));
    const io = faultyIo({ fstatSync: (fd) => ({ size: fs.fstatSync(fd).size - 4 }) });
    expect(() => writeFileAtomic(file, checkpointBytes(2), io)).toThrow(/bytes reached the disk instead of/);
    expect(stepOf(file)).toBe(1);
    expect(leftovers(dir)).toEqual([]);
  });

  it('stops on a write that takes nothing instead of looping forever', () => {
    const dir = runFolder();
    const io = faultyIo({ writeSync: () => 0 });
    expect(() => writeFileAtomic(path.join(dir, 'out.bin'), Buffer.alloc(100), io)).toThrow(/accepted no more bytes/);
    expect(leftovers(dir)).toEqual([]);
  });
});

describe('checkpoints of a run', () => {
  it('keeps the newest few, removing an older one only after the new one is written and verified', () => {
    const runDir = runFolder();
    for (const step of [1, 2, 3]) writeCheckpoint(runDir, step, checkpointBytes(step), 2);
    expect(listCheckpoints(runDir).map(stepOf)).toEqual([2, 3]);
    // A write that fails keeps both.
    const io = faultyIo({ writeSync: () => { throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }); } });
    let error: unknown;
    try {
      writeCheckpoint(runDir, 4, checkpointBytes(4), 2, io);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(CheckpointWriteError);
    expect((error as Error).message).toMatch(/step 4 .*the disk is full\. The previous checkpoint, step-00000003\.safetensors, is kept; free some space, then resume\./);
    expect(listCheckpoints(runDir).map(stepOf)).toEqual([2, 3]);
    // A write that lands short on disk is caught by the check after it, and removed.
    const short = faultyIo({ fstatSync: (fd) => ({ size: fs.fstatSync(fd).size - 1 }) });
    expect(() => writeCheckpoint(runDir, 4, checkpointBytes(4), 2, short)).toThrow(CheckpointWriteError);
    expect(listCheckpoints(runDir).map(stepOf)).toEqual([2, 3]);
    expect(leftovers(path.dirname(checkpointPath(runDir, 1)))).toEqual([]);
  });

  it('resumes from the newest whole checkpoint: a cut-off newest one is skipped with its reason and set aside', () => {
    const runDir = runFolder();
    for (const step of [10, 20, 30]) writeCheckpoint(runDir, step, checkpointBytes(step), 5);
    const newest = checkpointPath(runDir, 30);
    fs.truncateSync(newest, fs.statSync(newest).size - 5000);
    expect(safetensorsProblem(newest)).toMatch(/cut off/);
    const { file, skipped } = newestUsableCheckpoint(runDir, { setAside: true });
    expect(file).toBe(checkpointPath(runDir, 20));
    expect(skipped).toHaveLength(1);
    expect(skipped[0]).toMatchObject({ file: newest, setAsideTo: `${newest}.damaged` });
    expect(skipped[0]!.reason).toMatch(/cut off/);
    expect(listCheckpoints(runDir).map(stepOf)).toEqual([10, 20]);
    expect(fs.existsSync(`${newest}.damaged`)).toBe(true);
  });

  it('finds none when every checkpoint is damaged, and removes what a killed writer left', () => {
    const runDir = runFolder();
    writeCheckpoint(runDir, 5, checkpointBytes(5), 3);
    fs.writeFileSync(checkpointPath(runDir, 5), Buffer.alloc(4));
    fs.writeFileSync(path.join(path.dirname(checkpointPath(runDir, 5)), '.step-00000006.safetensors.123.456.tmp'), 'half');
    const found = newestUsableCheckpoint(runDir);
    expect(found.file).toBeUndefined();
    expect(found.skipped).toMatchObject([{ reason: expect.stringMatching(/shorter than a safetensors header/) }]);
    expect(removePartialCheckpoints(runDir)).toEqual(['.step-00000006.safetensors.123.456.tmp']);
  });
});

describe('a checkpoint on a full disk (a small tmpfs)', () => {
  it('never replaces a good checkpoint: the write fails, the good one stays whole, no temporary is left', (context) => {
    const mounted = tmpfsForTest(1024 * 1024, context, cleanups);
    const runDir = path.join(mounted.dir, 'run');
    // About 320 KB each: the first fits; after the filler, the second cannot.
    writeCheckpoint(runDir, 100, checkpointBytes(100, 80_000), 3);
    const good = checkpointPath(runDir, 100);
    const before = fs.readFileSync(good);
    fillDisk(mounted.dir);
    expect(() => writeCheckpoint(runDir, 200, checkpointBytes(200, 80_000), 3)).toThrow(/disk is full.*step-00000100\.safetensors, is kept/);
    expect(listCheckpoints(runDir)).toEqual([good]);
    expect(fs.readFileSync(good).equals(before)).toBe(true);
    expect(safetensorsProblem(good)).toBeUndefined();
    expect(leftovers(path.dirname(good))).toEqual([]);
    expect(newestUsableCheckpoint(runDir).file).toBe(good);
  });
});
