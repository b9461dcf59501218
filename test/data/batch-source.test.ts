import fs from 'node:fs';
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { referenceAugmentation } from '../../main/data/augment';
import { JigsawBatchSource } from '../../main/data/batch-source';
import { listImageFiles } from '../../main/data/files';
import { builtEntry, sharedDataset } from '../helpers/built';

function bytes(array: Float32Array): Buffer {
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength);
}

async function source(workerScript?: string) {
  const files = (await listImageFiles(sharedDataset('tiny'))).map((item) => item.file);
  const s = new JigsawBatchSource(files, {
    jigsaw: { grid: 2, crop: 32, cross: 0.3, augmentation: referenceAugmentation },
    batch: 8,
    seed: 5,
    cacheShortSide: 64,
    workerScript,
  });
  await s.prepare();
  return s;
}

describe('jigsaw batch source', () => {
  it('gives the same batches from the worker thread as in-thread, and the same again after a restart', async () => {
    const inThread = await source();
    const threaded = await source(builtEntry('batch-worker'));
    expect(inThread.threaded).toBe(false);
    expect(threaded.threaded).toBe(true);
    for (const [epoch, b] of [[0, 0], [0, 2], [3, 1]] as const) {
      const a = await inThread.batch(epoch, b);
      const w = await threaded.batch(epoch, b);
      expect(w.montages.length).toBe(a.montages.length);
      expect(bytes(w.montages).equals(bytes(a.montages))).toBe(true);
      expect(Array.from(w.clusterLabels)).toEqual(Array.from(a.clusterLabels));
    }
    // Different epochs see different orders and augmentations.
    const e0 = await inThread.batch(0, 0);
    const e1 = await inThread.batch(1, 0);
    expect(bytes(e0.montages).equals(bytes(e1.montages))).toBe(false);
    await threaded.close();
    await inThread.close();
  }, 60_000);

  it('makes batches at a lower priority than the step (Linux: the worker thread alone is niced)', async (context) => {
    const own = os.getPriority();
    if (process.platform !== 'linux' || own >= 19) {
      console.log(`skipped: ${process.platform !== 'linux' ? 'per-thread priorities are set on Linux only' : 'this process already runs at the lowest priority'}`);
      context.skip();
    }
    /** The nice value of each thread of this process (/proc/self/task/<tid>/stat, field 19). */
    const threadNices = () => fs.readdirSync('/proc/self/task').map((tid) => Number(fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ')[16]));
    const before = threadNices();
    const threaded = await source(builtEntry('batch-worker'));
    await threaded.batch(0, 0);
    const during = threadNices();
    await threaded.close();
    expect(before.every((nice) => nice === own)).toBe(true);
    expect(during.filter((nice) => nice === Math.min(19, own + 5))).toHaveLength(1);
    expect(os.getPriority()).toBe(own);
  }, 60_000);

  it('reports files that fail to decode and trains on the rest', async () => {
    const files = (await listImageFiles(sharedDataset('tiny'))).map((item) => item.file);
    const s = new JigsawBatchSource([...files, `${files[0]}.missing.jpg`], {
      jigsaw: { grid: 2, crop: 32, cross: 0.3 },
      batch: 8,
      seed: 1,
      cacheShortSide: 64,
    });
    expect(await s.prepare()).toBe(files.length);
    expect(s.rejected).toHaveLength(1);
    expect(s.rejected[0]!.reason).toMatch(/cannot read the file/);
  });
});

describe('jigsaw batch source disk cache', () => {
  it('decodes each file once: a second source on the same files reads the cache and gives the same batches', async () => {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-cache-'));
    try {
      const files = (await listImageFiles(sharedDataset('tiny'))).map((item) => item.file);
      const options = { jigsaw: { grid: 2, crop: 32, cross: 0.3, augmentation: referenceAugmentation }, batch: 8, seed: 2, cacheShortSide: 48, diskCache: cacheDir };
      const first = new JigsawBatchSource(files, options);
      await first.prepare();
      const entries = fs.readdirSync(cacheDir, { recursive: true }).filter((name) => String(name).endsWith('.rgb'));
      expect(entries).toHaveLength(files.length);
      const second = new JigsawBatchSource(files, options);
      await second.prepare();
      expect(bytes((await second.batch(0, 1)).montages).equals(bytes((await first.batch(0, 1)).montages))).toBe(true);
      // Each entry holds its width, height and the RGB bytes.
      const one = path.join(cacheDir, String(entries[0]));
      const data = fs.readFileSync(one);
      expect(data.readUInt32LE(0) * data.readUInt32LE(4) * 3 + 8).toBe(data.length);
    } finally {
      fs.rmSync(cacheDir, { recursive: true, force: true });
    }
  });
});
