// Shared by the quality benchmarks (quality.mjs, eval-size.mjs): running the built CLI, the
// pretraining runs they evaluate, mean ± sd, and the results files the README quotes from.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const dataset = path.resolve(repoRoot, '../shared/datasets/cifar10-dev');
export const resultsDir = path.join(repoRoot, 'test/bench/results');

/** Runs `node out/main/cli.js ...args`; stderr goes to ours, stdout is returned (and echoed). Throws on failure. */
export function jigclu(args) {
  const cli = path.join(repoRoot, 'out/main/cli.js');
  if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first.`);
  const started = performance.now();
  const result = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 });
  process.stdout.write(result.stdout ?? '');
  if (result.status !== 0) throw new Error(`jigclu ${args.join(' ')} failed (exit ${result.status ?? result.signal})`);
  return { stdout: result.stdout, seconds: (performance.now() - started) / 1000 };
}

/** Mean and sample standard deviation (0 for one value). */
export function meanSd(values) {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const sd = values.length > 1 ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1)) : 0;
  return { mean, sd };
}

/** "m ± sd" with `digits` decimals, values multiplied by `scale` (100 for percentages), a sign when `signed`. */
export function formatMeanSd(values, { scale = 1, digits = 1, signed = false } = {}) {
  const { mean, sd } = meanSd(values.map((v) => v * scale));
  const sign = signed && mean >= 0 ? '+' : '';
  return `${sign}${mean.toFixed(digits)} ± ${sd.toFixed(digits)}`;
}

/** What a pretraining command printed at its end: where it stopped, how much it trained, the CPU it used. */
export function parsePretrainOutput(stdout) {
  const end = /(Finished|Stopped) at epoch (\d+), step (\d+) on (\d+) images/.exec(stdout);
  const seen = /(\d+) images seen in (\d+(?:\.\d+)?) s of training/.exec(stdout);
  const cpu = /the training thread used (\d+(?:\.\d+)?) s of CPU(?: \((\d+(?:\.\d+)?) images per CPU second after the first step\))?/.exec(stdout);
  // The trainer's timed steps (absent from runs that trained no step): wall rate and cores busy.
  const timed = /(\d+) steps in (\d+(?:\.\d+)?) s of training, (\d+(?:\.\d+)?) images\/s \(.*?; (\d+(?:\.\d+)?) cores busy on average\)/.exec(stdout);
  if (!end || !seen || !cpu) throw new Error(`unexpected pretraining output:\n${stdout}`);
  return {
    imagesPerSecond: timed ? Number(timed[3]) : null,
    coresBusy: timed ? Number(timed[4]) : null,
    status: end[1].toLowerCase(),
    epoch: Number(end[2]),
    step: Number(end[3]),
    images: Number(end[4]),
    imagesSeen: Number(seen[1]),
    trainingSeconds: Number(seen[2]),
    cpuSeconds: Number(cpu[1]),
    imagesPerCpuSecond: cpu[2] === undefined ? null : Number(cpu[2]),
  };
}

/** The commit the numbers come from, and whether the tree had changes. */
export function gitState() {
  const run = (args) => spawnSync('git', args, { cwd: repoRoot, encoding: 'utf8' }).stdout?.trim() ?? '';
  return { commit: run(['rev-parse', 'HEAD']) || 'unknown', dirty: run(['status', '--porcelain', '--untracked-files=no']).length > 0 };
}

/** The machine, for the results file. */
export function machine() {
  return { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', node: process.version, loadAverage: os.loadavg().map((v) => Number(v.toFixed(2))) };
}

/**
 * Writes results/<name>-<YYYY-MM-DD>.md and .json (the README quotes these) and returns the paths.
 * The runs folder is written as `<runs>`: a committed results file names no path of this machine.
 */
export function writeResults(name, markdown, json, runsDir) {
  fs.mkdirSync(resultsDir, { recursive: true });
  const day = new Date().toISOString().slice(0, 10);
  const base = path.join(resultsDir, `${name}-${day}`);
  const portable = (text) => (runsDir ? text.split(runsDir).join('<runs>') : text);
  fs.writeFileSync(`${base}.md`, portable(markdown));
  fs.writeFileSync(`${base}.json`, portable(`${JSON.stringify(json, null, 2)}\n`));
  return [`${base}.md`, `${base}.json`];
}

/** Parses `--name value` options (and bare `--flag`) into an object. */
export function parseArgs(argv, defaults) {
  const options = { ...defaults };
  for (let i = 0; i < argv.length; i += 1) {
    const key = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!(key in defaults)) throw new Error(`unknown option ${argv[i]}; known: ${Object.keys(defaults).join(', ')}`);
    const next = argv[i + 1];
    if (typeof defaults[key] === 'boolean') options[key] = true;
    else {
      options[key] = typeof defaults[key] === 'number' ? Number(next) : next;
      i += 1;
    }
  }
  return options;
}

/**
 * The budgets a pretraining run can get (`--budget`):
 * - wall: `minutes` of training on the wall clock (`--time-limit`), threads as the app chooses
 *   them (one per core): what the issue's "10 minutes on this machine" means. Fair only when the run
 *   gets the machine's cores: run other work at `nice -n 19` (the record keeps the cores the trainer
 *   kept busy, and the load).
 * - cpu: `minutes` of the training thread's CPU time (`--cpu-time-limit`, one thread): a budget
 *   that holds on a machine busy with other work, at the price of the threads' speed-up.
 */
export const budgets = {
  wall: { flag: '--time-limit', threads: 'auto', calibration: 'calibration-wall.json', rate: (m) => m.imagesPerSecond, unit: 'images/s' },
  cpu: { flag: '--cpu-time-limit', threads: '1', calibration: 'calibration.json', rate: (m) => m.imagesPerCpuSecond, unit: 'images per CPU second' },
};

/**
 * The training speed of `preset` under `budget`, measured once per runs folder by a short run
 * (1 minute of the budget's clock) and kept in the runs folder, so every seed is fitted alike.
 */
export function calibrate({ runsDir, preset, budget = 'cpu' }) {
  const { flag, threads, calibration: name, rate } = budgets[budget];
  const file = path.join(runsDir, name);
  if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8'));
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-quality-'));
  try {
    const args = ['--data-dir', dataDir, 'pretrain', path.join(dataset, 'train'), '--preset', preset, '--seed', '0', '--epochs', '1', flag, '1', '--threads', threads, '--out', path.join(dataDir, 'run')];
    const measured = parsePretrainOutput(jigclu(args).stdout);
    const speed = rate(measured);
    if (!speed) throw new Error('the calibration run trained too little to measure its speed');
    const batch = measured.imagesSeen / measured.step;
    const calibration = {
      budget,
      imagesPerCpuSecond: measured.imagesPerCpuSecond,
      imagesPerSecond: measured.imagesPerSecond,
      coresBusy: measured.coresBusy,
      // cpu: what the main thread spends before and outside the steps (engine start, image
      // bookkeeping); wall: the clock starts at the first step, so nothing.
      prepCpuSeconds: budget === 'cpu' ? Math.max(0, measured.cpuSeconds - measured.imagesSeen / measured.imagesPerCpuSecond) : 0,
      imagesPerEpoch: Math.floor(measured.images / batch) * batch,
      git: gitState(),
      date: new Date().toISOString(),
      loadAverage: os.loadavg()[0],
    };
    fs.writeFileSync(file, `${JSON.stringify(calibration, null, 2)}\n`);
    return calibration;
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * The whole epochs that fit a budget at a calibrated speed, at least 1. cpu: (budget - the CPU
 * the run spends before training) * images per CPU second / images per epoch. wall: 95% of the
 * budget * images per second of training / images per epoch (the margin keeps the cosine schedule
 * inside the budget when the speed wavers).
 */
export function fitEpochs({ minutes, budget = 'cpu', prepCpuSeconds = 0, imagesPerCpuSecond, imagesPerSecond, imagesPerEpoch }) {
  const images = budget === 'wall' ? minutes * 60 * 0.95 * imagesPerSecond : (minutes * 60 - prepCpuSeconds) * imagesPerCpuSecond;
  return Math.max(1, Math.floor(images / imagesPerEpoch));
}

/**
 * One pretraining run per seed, kept in `runsDir/seed-<seed>` with a pretrain.json record; a run
 * already recorded there is reused (so evaluations can be repeated without pretraining again).
 * The run gets the whole epochs that fit `minutes` of its `budget` (see budgets) at the
 * calibrated speed, so its cosine schedule ends inside the budget.
 */
export function pretrainSeed({ runsDir, seed, minutes, preset, budget = 'cpu' }) {
  const runDir = path.join(runsDir, `seed-${seed}`);
  const recordFile = path.join(runDir, 'pretrain.json');
  if (fs.existsSync(recordFile)) {
    console.error(`Reusing the pretraining run ${runDir} (${recordFile}).`);
    return { runDir, record: JSON.parse(fs.readFileSync(recordFile, 'utf8')) };
  }
  const calibration = calibrate({ runsDir, preset, budget });
  const epochs = fitEpochs({ minutes, budget, ...calibration });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-quality-'));
  try {
    const args = ['--data-dir', dataDir, 'pretrain', path.join(dataset, 'train'), '--preset', preset, '--seed', String(seed), '--epochs', String(epochs), budgets[budget].flag, String(minutes), '--threads', budgets[budget].threads, '--out', runDir];
    const loadBefore = os.loadavg()[0];
    const run = jigclu(args);
    const outcome = parsePretrainOutput(run.stdout);
    const record = {
      command: `jigclu ${args.map((a) => (a === dataDir ? '<tmp>' : a === runDir ? `<runs>/seed-${seed}` : a.startsWith(dataset) ? path.relative(repoRoot, a) : a)).join(' ')}`,
      budget,
      git: gitState(),
      date: new Date().toISOString(),
      calibration: { ...calibration, epochsPlanned: epochs },
      ...outcome,
      wallMinutes: run.seconds / 60,
      loadAverage: { before: loadBefore, after: os.loadavg()[0] },
    };
    fs.writeFileSync(recordFile, `${JSON.stringify(record, null, 2)}\n`);
    return { runDir, record };
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * `jigclu evaluate` of a run (or its random init); its JSON is also written into the run folder.
 * With `reuse`, an evaluation already in the run folder that measured the same thing is read
 * instead: same init, size, label draws and labels per class, with the fine-tune when it is
 * asked for (one with the fine-tune also serves an evaluation without it: kNN, k-means and the
 * probe are the same computation).
 */
export function evaluateRun(runDir, { randomInit, size, draws, perClass, fineTune, reuse = false }) {
  const name = `eval-${randomInit ? 'random' : 'pretrained'}-${size ?? 'default'}px-${draws}x${perClass}${fineTune ? '-ft' : ''}.json`;
  const file = path.join(runDir, name);
  if (reuse) {
    const found = reusableEvaluation(runDir, { randomInit, size, draws, perClass, fineTune });
    if (found) {
      console.error(`Reusing the evaluation ${found.file}.`);
      return found.evaluation;
    }
  }
  const args = ['evaluate', runDir, '--train', path.join(dataset, 'train'), '--test', path.join(dataset, 'test'), '--draws', String(draws), '--per-class', String(perClass), '--json', file];
  if (randomInit) args.push('--random-init');
  if (size) args.push('--size', String(size));
  if (fineTune) args.push('--fine-tune');
  jigclu(args);
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

/** An evaluation JSON in `runDir` that answers `wanted` (see evaluateRun), or undefined. */
export function reusableEvaluation(runDir, { randomInit, size, draws, perClass, fineTune }) {
  const prefix = `eval-${randomInit ? 'random' : 'pretrained'}-`;
  for (const entry of fs.readdirSync(runDir).sort()) {
    if (!entry.startsWith(prefix) || !entry.endsWith('.json')) continue;
    const file = path.join(runDir, entry);
    const evaluation = JSON.parse(fs.readFileSync(file, 'utf8'));
    const matches =
      evaluation.backbone?.randomInit === randomInit &&
      (size === undefined ? entry.includes('-defaultpx-') : evaluation.size === size) &&
      evaluation.probe?.length === draws &&
      evaluation.perClass === perClass &&
      (!fineTune || evaluation.fineTune?.length === draws);
    if (matches) return { file, evaluation };
  }
  return undefined;
}
