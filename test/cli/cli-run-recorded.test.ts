import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startCore, type Core } from '../../main/core';
import { fakeEngineReport, waitFor } from '../helpers/library';
import { builtEntry, sharedDataset } from '../helpers/built';

/**
 * One path for runs (issue 18): `jigclu pretrain` trains through the same core services as the
 * app, so its run is a row in SQLite with its metrics. An app open on the same data folder while
 * the command trains sees the run training (it does not take it for one a dead app left), and
 * once it has ended, finished with its whole curve and checkpoints.
 */

const dirs: string[] = [];
const cores: Core[] = [];
afterEach(() => {
  for (const core of cores.splice(0)) core.close();
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** Runs the built CLI; `output` grows as it prints. */
function jigclu(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [builtEntry('cli'), ...args], { env: { ...process.env, ...env } });
  const state = { output: '', code: undefined as number | null | undefined };
  child.stdout.on('data', (chunk: Buffer) => (state.output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (state.output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve((state.code = code))));
  return { state, exited, child };
}

function openApp(dataDir: string): Core {
  const core = startCore({ dataDir, mode: 'browser', probeEngines: async () => fakeEngineReport, library: { autoThumbnails: false } });
  cores.push(core);
  return core;
}

describe('jigclu pretrain records its run', () => {
  it('is listed by runsList with its curve, also in an app open while it trains', async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-cli-run-'));
    dirs.push(work);
    const dataDir = path.join(work, 'data');
    // The app is open on the data folder before the command starts.
    const app = openApp(dataDir);
    // Slow steps, so the run is still training when a second app opens.
    const cli = jigclu(['--data-dir', dataDir, 'pretrain', sharedDataset('tiny'), '--epochs', '2', '--batch', '8', '--seed', '3', '--engine', 'wasm'], { JIGCLU_STEP_DELAY_MS: '1000' });
    try {
      // The app sees the run's first steps in the database while the command trains.
      await waitFor(() => app.services.runs.list().some((run) => run.status === 'running' && run.lastStep >= 1) || cli.state.code !== undefined, 'the command to train its first step', 120_000);
      expect(cli.state.code, cli.state.output).toBeUndefined();
      // An app started now finds the run training in another live process and leaves it so.
      const late = openApp(dataDir);
      const seen = (await late.handlers.runsList({})).find((run) => run.imageCount === 24);
      expect(seen?.status, cli.state.output).toBe('running');
    } finally {
      const code = await cli.exited;
      expect(code, cli.state.output).toBe(0);
    }
    expect(cli.state.output).toMatch(/Finished at epoch 2, step 6 on 24 images/);
    const runs = await app.handlers.runsList({});
    expect(runs).toHaveLength(1);
    const run = runs[0]!;
    expect(run).toMatchObject({ status: 'finished', imageCount: 24, lastStep: 6, engine: 'wasm' });
    expect(cli.state.output).toContain(`Run folder: ${run.runDir}`);
    const details = await app.handlers.runGet({ runId: run.id, maxPoints: 100 });
    // The curve: one metric per step, losses that are numbers.
    expect(details.metrics.map((metric) => metric.step)).toEqual([1, 2, 3, 4, 5, 6]);
    for (const metric of details.metrics) expect(Number.isFinite(metric.total)).toBe(true);
    expect(details.checkpoints.at(-1)).toMatchObject({ step: 6, epoch: 2 });
    expect(fs.existsSync(details.checkpoints.at(-1)!.file)).toBe(true);
    // The folder it trained on is in the library, as an import would have left it.
    expect((await app.handlers.libraryFolders({})).map((folder) => folder.path)).toEqual([sharedDataset('tiny')]);
  }, 240_000);
});
