import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resolvePretrainConfig } from '../../../main/common/pretrain-config';
import { listImageFiles } from '../../../main/data/files';
import { checkpointPath, listCheckpoints } from '../../../main/engine/weights/checkpoints';
import { safetensorsProblem } from '../../../main/engine/weights/safetensors';
import { JigCluTrainer } from '../../../main/engine/jigclu/trainer';
import type { FromTrainer } from '../../../main/jobs/protocol';
import { TrainerHost } from '../../../main/jobs/trainer-host';
import { fillDisk, tmpfsForTest } from '../../helpers/tmpfs';
import { builtEntry, sharedDataset } from '../../helpers/built';

/**
 * A real training run whose disk fills up (issue 17's "Must show"): the run folder is on a small
 * tmpfs, filled right after the first checkpoint. The next checkpoint cannot be written: the
 * run fails saying the disk is full and which checkpoint is kept, that checkpoint is whole and
 * loads, and no partial file is left.
 */

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

describe('a checkpoint on a full disk, in the trainer process', () => {
  it('never replaces a good checkpoint: the run fails saying so, the previous checkpoint stays whole', async (context) => {
    const mounted = tmpfsForTest(32 * 1024 * 1024, context, cleanups);
    const runDir = path.join(mounted.dir, 'run');
    const files = (await listImageFiles(sharedDataset('tiny'))).map((item) => item.file);
    const config = resolvePretrainConfig('cpu-small', { width: 0.125, batch: 4, epochs: 50, checkpointEvery: 2, keepCheckpoints: 3, engine: 'cpu' });

    const host = new TrainerHost(builtEntry('trainer-process'));
    let filler: string | undefined;
    const messages: FromTrainer[] = [];
    host.on('message', (message) => {
      messages.push(message);
      // Right after the first checkpoint, nothing more fits on the disk.
      if (message.type === 'checkpoint' && !filler) filler = fillDisk(mounted.dir);
    });
    host.start({ config, files, runDir, engine: 'cpu', stepDelayMs: 200 });
    const exit = await host.done;
    expect(exit.kind).toBe('failed');
    const message = exit.kind === 'failed' ? exit.message : '';
    expect(message).toMatch(/Could not write the checkpoint at step 4 in .*: the disk is full\. The previous checkpoint, step-00000002\.safetensors, is kept; free some space, then resume\./);

    const good = checkpointPath(runDir, 2);
    expect(listCheckpoints(runDir)).toEqual([good]);
    expect(safetensorsProblem(good)).toBeUndefined();
    expect(fs.readdirSync(path.dirname(good)).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    // It loads whole: a resumed run starts from it (the resume itself is tested in trainer-process.test.ts).
    const trainer = JigCluTrainer.deserialize(fs.readFileSync(good), { convGrad: 'fast' });
    expect(trainer.position.globalStep).toBe(2);
    trainer.dispose();
  }, 120_000);
});
