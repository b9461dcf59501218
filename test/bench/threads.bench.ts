import fs from 'node:fs';
import os from 'node:os';
import { afterAll, bench, describe } from 'vitest';
import { resolvePretrainConfig } from '../../main/common/pretrain-config';
import { referenceAugmentation, toFloatImage } from '../../main/data/augment';
import { makeJigsawBatch, type JigsawBatch } from '../../main/data/jigsaw';
import { Rng } from '../../main/data/rng';
import * as tf from '../../main/engine/backend/tfjs';
import { JigCluTrainer } from '../../main/engine/jigclu/trainer';
import { physicalCores, resolveThreads, useWasmThreads, wasmThreadsInUse } from '../../main/engine/backend/wasm-threads';
import { torchStep, type TorchTiming } from './torch-step';

/**
 * Threads of the wasm engine (issue 20): one cpu-small training step at batch 32 (the model and
 * input of train-step.bench.ts) on 1, 2 and all threads (one per physical core) of the threaded
 * WebAssembly build, then PyTorch's step on the same batch on 1 and all threads, all in this
 * run. Prints images/s, the scaling ratio against one thread, and wasm / PyTorch.
 */

const batchSize = 32;
const config = resolvePretrainConfig('cpu-small', { batch: batchSize });
const all = resolveThreads('auto');
const counts = [...new Set([1, 2, all])];

function makeBatch(): JigsawBatch {
  const rng = new Rng(1);
  const side = config.crop * 2;
  const images = Array.from({ length: batchSize }, () => toFloatImage(new Uint8Array(side * side * 3).map(() => rng.int(256)), side, side));
  return makeJigsawBatch(images, { grid: config.grid, crop: config.crop, cross: config.cross, augmentation: referenceAugmentation }, rng);
}

/** CPU time of the whole machine (Linux: /proc/stat, in clock ticks of 10 ms), to tell how busy it was. */
function machineBusySeconds(): number | undefined {
  try {
    const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    return (fields.reduce((sum, value) => sum + value, 0) - fields[3]! - fields[4]!) / 100;
  } catch {
    return undefined;
  }
}

const startedAt = { wall: performance.now(), busy: machineBusySeconds(), own: process.cpuUsage() };
const batch = makeBatch();
const times = new Map<number, number[]>();
/** CPU-seconds this process used (all its threads) and wall seconds, over the timed steps of each count. */
const usage = new Map<number, { cpu: number; wall: number }>();
let current: { threads: number; trainer: JigCluTrainer } | undefined;

/** A trainer on `threads` threads (switching the wasm build disposes the previous one). */
async function trainerOn(threads: number): Promise<JigCluTrainer> {
  if (current?.threads !== threads) {
    current?.trainer.dispose();
    await tf.setBackend('cpu');
    await useWasmThreads(threads);
    if (!(await tf.setBackend('wasm'))) throw new Error(`the wasm engine did not start on ${threads} threads`);
    if (wasmThreadsInUse() !== threads) throw new Error(`asked for ${threads} threads, the engine uses ${wasmThreadsInUse()}`);
    const trainer = new JigCluTrainer(config, 'fast');
    await trainer.step(batch, 1e9); // warm-up
    current = { threads, trainer };
  }
  return current.trainer;
}

describe(`cpu-small training step, batch ${batchSize}, wasm engine by threads (${physicalCores()} physical cores here)`, () => {
  for (const threads of counts) {
    bench(
      `${threads} thread${threads === 1 ? '' : 's'}${threads === all ? ' (all)' : ''}`,
      async () => {
        const trainer = await trainerOn(threads);
        const started = performance.now();
        const cpuStarted = process.cpuUsage();
        await trainer.step(batch, 1e9);
        const wall = performance.now() - started;
        const cpu = process.cpuUsage(cpuStarted);
        times.set(threads, [...(times.get(threads) ?? []), wall]);
        const sum = usage.get(threads) ?? { cpu: 0, wall: 0 };
        usage.set(threads, { cpu: sum.cpu + (cpu.user + cpu.system) / 1e6, wall: sum.wall + wall / 1000 });
      },
      { time: 5000, iterations: 8, warmupIterations: 0 },
    );
  }
});

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
const imagesPerSecond = (threads: number) => (1000 * batchSize) / median(times.get(threads) ?? []);

afterAll(() => {
  current?.trainer.dispose();
  // Other processes' share of the CPUs while wasm was measured (this machine may be shared).
  const busy = machineBusySeconds();
  const own = process.cpuUsage(startedAt.own);
  const wall = (performance.now() - startedAt.wall) / 1000;
  const others = busy === undefined || startedAt.busy === undefined ? undefined : (busy - startedAt.busy - (own.user + own.system) / 1e6) / (wall * os.availableParallelism());
  const torch = new Map<number, TorchTiming | string>([1, all].map((threads) => [threads, torchStep(batch, config, threads)]));
  const torchRate = (threads: number) => {
    const timing = torch.get(threads);
    return typeof timing === 'object' ? timing.imagesPerSecond : undefined;
  };
  // Cores a count actually got (CPU-seconds per wall second): on a shared machine 2 threads may get far less than 2.
  const cores = (threads: number) => {
    const sum = usage.get(threads);
    return sum && sum.wall > 0 ? (sum.cpu / sum.wall).toFixed(2) : '—';
  };
  const torchCores = (threads: number) => {
    const timing = torch.get(threads);
    return typeof timing === 'object' ? timing.cores.toFixed(2) : '—';
  };
  const lines = [`\nStep images/s, cpu-small batch ${batchSize} (median of each run's steps; ${physicalCores()} physical cores here; cores = CPU-seconds per wall second the step got):`];
  lines.push(`  threads   wasm      vs 1 thread   cores   PyTorch   cores   wasm / PyTorch`);
  for (const threads of counts) {
    const rate = imagesPerSecond(threads);
    const torchValue = torchRate(threads);
    lines.push(
      `  ${String(threads).padEnd(8)}  ${rate.toFixed(1).padStart(6)}    ${(rate / imagesPerSecond(1)).toFixed(2).padStart(5)}x        ${cores(threads).padStart(5)}   ` +
        (torchValue === undefined || !torch.has(threads) ? '     —      —       —' : `${torchValue.toFixed(1).padStart(6)}    ${torchCores(threads).padStart(5)}   ${(rate / torchValue).toFixed(2)}x`),
    );
  }
  lines.push(`Scaling ratio (all ${all} threads / 1 thread): wasm ${(imagesPerSecond(all) / imagesPerSecond(1)).toFixed(2)}x` +
    (torchRate(all) && torchRate(1) ? `, PyTorch ${(torchRate(all)! / torchRate(1)!).toFixed(2)}x` : ''));
  for (const [threads, timing] of torch) if (typeof timing === 'string') lines.push(`PyTorch on ${threads} thread(s) not measured: ${timing}`);
  if (others !== undefined) lines.push(`Other processes used ${Math.max(0, others * 100).toFixed(0)}% of the ${os.availableParallelism()} CPUs while wasm was measured (threads only pay off on idle cores).`);
  console.log(lines.join('\n'));
}, 180_000);
