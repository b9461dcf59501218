/**
 * `npm run bench:gpu`: training-step speed (images/s) of each preset on every engine present,
 * and, where Python's torch sees a CUDA device, the same JigClu step in PyTorch on it as the
 * baseline, all in one run, printed with ratios. Also the entry of the self-contained GPU bench
 * bundle (test/bench/gpu-bundle.sh). Usage:
 *   node out/main/gpu-bench.js [--engines webgpu,wasm] [--presets cpu-small,resnet18] [--seconds 10]
 *                              [--batch N] [--no-torch] [--json file]
 * Random montages of the preset's shape; one untimed warm-up step (kernel and shader compilation,
 * reported as such), then steps for at least --seconds (3 at least, 50 at most).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { engineDisplayName, type EngineName } from '../common/engine';
import { presetNames, resolvePretrainConfig, type PresetName, type PretrainConfig } from '../common/pretrain-config';
import type { JigsawBatch } from '../data/jigsaw';
import { backendNames, probeEngines } from '../engine/backend/backend';
import { defaultConvGradMode } from '../engine/nn/conv';
import * as tf from '../engine/backend/tfjs';
import { JigCluTrainer } from '../engine/jigclu/trainer';
import { releaseWebGpu } from '../engine/backend/webgpu';

interface Options {
  engines?: EngineName[];
  presets: PresetName[];
  seconds: number;
  batch?: number;
  torch: boolean;
  json?: string;
}

interface Measurement {
  engine: string;
  label: string;
  preset: PresetName;
  batch: number;
  warmupSeconds: number;
  steps: number;
  imagesPerSecond: number;
  note?: string;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { presets: ['cpu-small', 'resnet18'], seconds: 10, torch: true };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${arg} needs a value`);
      return next;
    };
    if (arg === '--engines') options.engines = value().split(',') as EngineName[];
    else if (arg === '--presets') options.presets = value().split(',') as PresetName[];
    else if (arg === '--seconds') options.seconds = Number(value());
    else if (arg === '--batch') options.batch = Number(value());
    else if (arg === '--no-torch') options.torch = false;
    else if (arg === '--json') options.json = value();
    else throw new Error(`unknown option ${arg} (see the header of main/bench/gpu-bench.ts)`);
  }
  for (const preset of options.presets) if (!presetNames.includes(preset)) throw new Error(`unknown preset ${preset}`);
  return options;
}

/** A batch of random montages with the labels of an unshuffled jigsaw batch. */
export function randomBatch(config: PretrainConfig, seed = 1): JigsawBatch {
  const n = config.batch;
  const cells = config.grid * config.grid;
  const size = config.grid * config.crop;
  let state = seed;
  const montages = new Float32Array(n * size * size * 3);
  for (let i = 0; i < montages.length; i += 1) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    montages[i] = state / 2 ** 31 - 1;
  }
  const permutation = Int32Array.from({ length: n * cells }, (_, i) => i);
  return {
    n,
    grid: config.grid,
    crop: config.crop,
    size,
    montages,
    clusterLabels: Int32Array.from(permutation, (p) => Math.floor(p / cells)),
    locationLabels: Int32Array.from(permutation, (p) => p % cells),
    permutation,
  };
}

/** Times steps of `config` on the current backend: the warm-up step, then at least `seconds` of steps. */
export async function timeSteps(config: PretrainConfig, seconds: number): Promise<{ warmupSeconds: number; steps: number; imagesPerSecond: number }> {
  const backend = tf.getBackend();
  const trainer = new JigCluTrainer(config, backend === 'webgpu' ? 'native' : defaultConvGradMode(backend));
  try {
    const batch = randomBatch(config);
    const warm = performance.now();
    await trainer.step(batch, 1e9);
    const started = performance.now();
    let steps = 0;
    // Queued as in training (launch, then read the previous step), read back at the end.
    let previous: Promise<unknown> | undefined;
    while (steps < 3 || (performance.now() - started < seconds * 1000 && steps < 50)) {
      const launched = trainer.launch(batch, 1e9).read();
      if (previous) await previous;
      previous = launched;
      steps += 1;
    }
    await previous;
    const elapsed = (performance.now() - started) / 1000;
    return { warmupSeconds: (started - warm) / 1000, steps, imagesPerSecond: (steps * config.batch) / elapsed };
  } finally {
    trainer.dispose();
  }
}

/** The PyTorch baseline where torch sees CUDA: one JSON line per preset, or why it did not run. */
function torchBaseline(presets: PresetName[], options: Options): { rows: Measurement[]; note: string } {
  const script = [path.join(path.dirname(fileURLToPath(import.meta.url)), 'torch_jigclu_step.py'), path.resolve('test/bench/torch_jigclu_step.py')].find((file) => fs.existsSync(file));
  if (!script) return { rows: [], note: 'PyTorch baseline: torch_jigclu_step.py not found.' };
  const python = process.env.JIGCLU_PYTHON ?? (fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
  const probe = spawnSync(python, ['-c', 'import torch; print(torch.cuda.is_available() and torch.cuda.get_device_name(0) or "")'], { encoding: 'utf8' });
  if (probe.status !== 0) return { rows: [], note: `PyTorch baseline: not run (${python} cannot import torch).` };
  const device = probe.stdout.trim();
  if (!device) return { rows: [], note: 'PyTorch baseline: not run (torch sees no CUDA device here).' };
  const rows: Measurement[] = [];
  for (const preset of presets) {
    const config = resolvePretrainConfig(preset, options.batch ? { batch: options.batch } : {});
    const args = [script, '--device', process.env.JIGCLU_TORCH_DEVICE ?? 'cuda', '--config', JSON.stringify(config), '--seconds', String(options.seconds)];
    const result = spawnSync(python, args, { encoding: 'utf8' });
    if (result.status !== 0) {
      rows.push({ engine: 'torch-cuda', label: `PyTorch CUDA, ${device}`, preset, batch: config.batch, warmupSeconds: 0, steps: 0, imagesPerSecond: Number.NaN, note: result.stderr.trim().split('\n').at(-1) });
      continue;
    }
    const measured = JSON.parse(result.stdout.trim().split('\n').at(-1)!) as { imagesPerSecond: number; steps: number; warmupSeconds: number };
    rows.push({ engine: 'torch-cuda', label: `PyTorch CUDA, ${device}`, preset, batch: config.batch, ...measured });
  }
  return { rows, note: `PyTorch baseline: ${device}.` };
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const report = await probeEngines('webgpu');
  const present = report.candidates.filter((c) => c.available).map((c) => c.name);
  const engines = (options.engines ?? present.filter((name) => name !== 'cpu')).filter((name) => present.includes(name));
  console.log(`GPU bench: ${engines.length ? engines.join(', ') : 'no engine'}; presets ${options.presets.join(', ')}; >= ${options.seconds} s of steps each.`);
  for (const candidate of report.candidates) console.log(`  ${candidate.available ? 'yes' : 'no '} ${candidate.name.padEnd(14)} ${candidate.reason}`);
  const rows: Measurement[] = [];
  for (const engine of engines) {
    if (!(await tf.setBackend(backendNames[engine]))) {
      console.log(`${engine}: could not switch to it`);
      continue;
    }
    const label = engineDisplayName({ chosen: engine, candidates: report.candidates });
    for (const preset of options.presets) {
      const config = resolvePretrainConfig(preset, options.batch ? { batch: options.batch } : {});
      try {
        const timed = await timeSteps(config, options.seconds);
        rows.push({ engine, label, preset, batch: config.batch, ...timed });
        console.log(`${preset.padEnd(9)} batch ${String(config.batch).padStart(3)}  ${label}: ${timed.imagesPerSecond.toFixed(2)} images/s (${timed.steps} steps; warm-up step ${timed.warmupSeconds.toFixed(1)} s incl. compilation)`);
      } catch (error) {
        rows.push({ engine, label, preset, batch: config.batch, warmupSeconds: 0, steps: 0, imagesPerSecond: Number.NaN, note: String((error as Error).message).split('\n')[0] });
        console.log(`${preset.padEnd(9)} ${label}: failed: ${String((error as Error).message).split('\n')[0]}`);
      }
    }
  }
  if (options.torch) {
    const torch = torchBaseline(options.presets, options);
    console.log(torch.note);
    for (const row of torch.rows) console.log(`${row.preset.padEnd(9)} batch ${String(row.batch).padStart(3)}  ${row.label}: ${row.imagesPerSecond.toFixed(2)} images/s${row.note ? ` (${row.note})` : ''}`);
    rows.push(...torch.rows);
  }
  console.log('Ratios (images/s over images/s, same machine, same run):');
  for (const preset of options.presets) {
    const of = (engine: string) => rows.find((row) => row.engine === engine && row.preset === preset && Number.isFinite(row.imagesPerSecond));
    const gpu = of('webgpu');
    const wasm = of('wasm');
    const torch = of('torch-cuda');
    if (gpu && wasm) console.log(`  ${preset}: webgpu / wasm = ${(gpu.imagesPerSecond / wasm.imagesPerSecond).toFixed(2)}x (target on a real GPU, cpu-small: >= 10x)`);
    if (gpu && torch) console.log(`  ${preset}: PyTorch CUDA / webgpu = ${(torch.imagesPerSecond / gpu.imagesPerSecond).toFixed(2)}x (target, resnet18: <= 3x)`);
  }
  if (options.json) fs.writeFileSync(options.json, JSON.stringify({ engines: report.candidates, rows }, null, 2));
}

main()
  .catch((error: unknown) => {
    console.error(`bench:gpu: ${(error as Error).message}`);
    process.exitCode = 1;
  })
  .finally(() => {
    releaseWebGpu(tf);
    // Dawn may keep the process alive after the device is gone.
    setTimeout(() => process.exit(), 100);
  });
