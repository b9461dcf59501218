import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { presets } from '../../main/common/pretrain-config';
import { openDatabase } from '../../main/store/db';
import { RunsRepository } from '../../main/store/runs-repository';
import { useTempDirs } from './helpers';

/**
 * A run's stored config is read as what it trained with: rows written before the learning rate
 * and the decoupling followed the reference (`baseLr`, rate baseLr * batch / 256, adaptive
 * pooling) come back as that explicit rate and `decoupling: 'pool'`, so continuing one changes
 * nothing; a new run's row comes back as it was written.
 */
const { tempDir, track } = useTempDirs();

describe('stored run configs', () => {
  it('reads an old row as the rate it trained at and adaptive pooling, and a new row unchanged', () => {
    const db = track(openDatabase(path.join(tempDir(), 'studio.db')));
    const repo = new RunsRepository(db);
    const { lr: _lr, decoupling: _decoupling, ...old } = presets['cpu-small'];
    const insert = db.prepare("INSERT INTO runs (name, config, engine, image_count, files_hash, run_dir) VALUES ('r', ?, 'cpu', 24, 'aa', ?)");
    const oldRun = Number(insert.run(JSON.stringify({ ...old, baseLr: 0.03 }), '/data/runs/1').lastInsertRowid);
    const newRun = Number(insert.run(JSON.stringify(presets['cpu-small']), '/data/runs/2').lastInsertRowid);
    expect(repo.get(oldRun)!.config).toEqual({ ...presets['cpu-small'], lr: 0.00375, decoupling: 'pool' });
    expect(repo.get(newRun)!.config).toEqual(presets['cpu-small']);
    expect(repo.list().map((run) => run.config.lr)).toEqual(expect.arrayContaining([0.00375, 0.03]));
  });
});
