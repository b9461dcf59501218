// npm run bench:quality [-- --minutes 10 --budget wall --seeds 1,2,3 --runs <folder> --draws 3 --per-class 10]
//
// Representation quality per minute of pretraining (issue 15): cpu-small pretrained on
// cifar10-dev/train for `minutes` per seed (quality-lib.mjs: budgets, pretrainSeed; `--budget wall`,
// the default: minutes of training on the wall clock with the app's threads, which needs the
// machine's cores: run other work at `nice -n 19`; `--budget cpu`: minutes of the training
// thread's CPU time, one thread, for a machine busy with other work), then `jigclu evaluate`
// of each run and of its random init (the same architecture with the run's seed: the weights it
// started from) on cifar10-dev (train as kNN bank and label pool, test to test on): kNN top-1,
// k-means NMI (k = 10), 10-label linear probe and LP-FT fine-tune over 3 label draws. Prints ONE
// table (mean ± sd over the seeds, a seed's few-label value being its mean over the label draws)
// and writes it with the commands, commit and machine to test/bench/results/quality-<date>.md/.json.
// `--runs <folder>` keeps the pretraining runs there and reuses those already recorded in it;
// `--pretrain-only` stops after pretraining; `--reuse-evaluations` reads evaluations already
// written into the run folders (same options) instead of running them again; `--size <px>`
// evaluates at that size instead of the app's default (evalSizeFor).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { budgets, dataset, evaluateRun, formatMeanSd, gitState, machine, meanSd, parseArgs, pretrainSeed, writeResults } from './quality-lib.mjs';

/** The issue's Must-show gains (pretrained minus random init). */
const targets = { knn: 10, nmi: 0.1, probe: 8, fineTune: 5 };

const options = parseArgs(process.argv.slice(2), { minutes: 10, budget: 'wall', seeds: '1,2,3', runs: '', draws: 3, perClass: 10, preset: 'cpu-small', pretrainOnly: false, reuseEvaluations: false, size: 0 });
if (!['wall', 'cpu'].includes(options.budget)) throw new Error(`--budget must be wall or cpu, not ${options.budget}`);
if (options.pretrainOnly && !options.runs) throw new Error('--pretrain-only needs --runs <folder> to keep the runs in');
if (!fs.existsSync(path.join(dataset, 'train'))) throw new Error(`missing ${dataset}: the quality benchmark needs ../shared/datasets/cifar10-dev`);
const seeds = options.seeds.split(',').map(Number);
const runsDir = options.runs ? path.resolve(options.runs) : fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-quality-runs-'));
fs.mkdirSync(runsDir, { recursive: true });
const started = new Date();

const perSeed = [];
for (const seed of seeds) {
  const { runDir, record } = pretrainSeed({ runsDir, seed, minutes: options.minutes, preset: options.preset, budget: options.budget });
  if (options.pretrainOnly) continue;
  const common = { size: options.size || undefined, draws: options.draws, perClass: options.perClass, fineTune: true, reuse: options.reuseEvaluations };
  const pretrained = evaluateRun(runDir, { ...common, randomInit: false });
  const random = evaluateRun(runDir, { ...common, randomInit: true });
  perSeed.push({ seed, pretrain: record, pretrained, random });
}

if (options.pretrainOnly) {
  console.log(`Pretraining runs recorded in ${runsDir}; evaluate them with: npm run bench:quality -- --runs ${runsDir}`);
  process.exit(0);
}
const mean = (values) => meanSd(values).mean;
const metric = (pick, scale, digits, target, unit) => {
  const pre = perSeed.map((s) => pick(s.pretrained));
  const rnd = perSeed.map((s) => pick(s.random));
  const gains = pre.map((v, i) => v - rnd[i]);
  const gain = mean(gains) * scale;
  return { pre, rnd, gains, text: [formatMeanSd(pre, { scale, digits }), formatMeanSd(rnd, { scale, digits }), formatMeanSd(gains, { scale, digits, signed: true }), `≥ +${target}${unit}`, gain >= target ? 'yes' : 'no'] };
};
const rows = [
  ['kNN top-1, % (k = 200)', metric((r) => r.knn, 100, 1, targets.knn, ' pts')],
  ['k-means NMI (k = 10)', metric((r) => r.clusters.nmi, 1, 3, targets.nmi, '')],
  [`${options.perClass}-label linear probe, %`, metric((r) => mean(r.probe), 100, 1, targets.probe, ' pts')],
  [`${options.perClass}-label fine-tune (LP-FT), %`, metric((r) => mean(r.fineTune), 100, 1, targets.fineTune, ' pts')],
];
const size = perSeed[0].pretrained.size;
const runs = perSeed.map((s) => s.pretrain);
const table = [
  `| ${options.preset}, cifar10-dev, ${seeds.length} seeds, ${size} px | pretrained | random init | gain | target | met |`,
  '| --- | --- | --- | --- | --- | --- |',
  ...rows.map(([name, m]) => `| ${name} | ${m.text.join(' | ')} |`),
].join('\n');
const drawSpread = (pick) => mean(perSeed.map((s) => meanSd(pick(s)).sd * 100)).toFixed(1);
const notes = [
  `Pretraining per seed (${seeds.join(', ')}), ${pretrainBudgetText(runs)}.`,
  `Mean ± sd over the ${seeds.length} seeds; a seed's few-label value is its mean over ${options.draws} label draws of ${options.perClass} labels per class (sd over the draws, averaged over seeds: probe ${drawSpread((s) => s.pretrained.probe)} / ${drawSpread((s) => s.random.probe)}, fine-tune ${drawSpread((s) => s.pretrained.fineTune)} / ${drawSpread((s) => s.random.fineTune)} points, pretrained / random init). Gain: pretrained minus random init of the same seed.`,
];
/** What each seed's pretraining got: its budget, epochs, images, and how the machine was. */
function pretrainBudgetText(records) {
  const budget = records[0].budget ?? 'cpu';
  const minutes = options.minutes;
  const each = records.map((r) => {
    const base = `${r.epoch} of ${r.calibration.epochsPlanned} planned epochs, ${r.imagesSeen.toLocaleString('en')} images seen`;
    return budget === 'wall'
      ? `${base} in ${(r.trainingSeconds / 60).toFixed(1)} min of training (${r.imagesPerSecond?.toFixed(1)} images/s, ${r.coresBusy?.toFixed(2)} cores busy; load ${r.loadAverage.before.toFixed(1)} to ${r.loadAverage.after.toFixed(1)})`
      : `${base}, ${(r.cpuSeconds / 60).toFixed(1)} CPU min in ${r.wallMinutes.toFixed(1)} wall min (load ${r.loadAverage.before.toFixed(1)} to ${r.loadAverage.after.toFixed(1)})`;
  });
  const what =
    budget === 'wall'
      ? `${minutes} min of training on the wall clock each (\`--time-limit ${minutes}\`, threads one per core; every other session's autogroup at nice 19, so the run had the cores it could use)`
      : `${minutes} min of the training thread's CPU time each`;
  return `${what}: ${each.join('; ')}; calibrated at ${budgets[budget].rate(records[0].calibration).toFixed(1)} ${budgets[budget].unit}`;
}
console.log(`\n${table}\n\n${notes.join('\n')}`);

const git = gitState();
const command = `npm run bench:quality -- ${process.argv.slice(2).join(' ')}`.trim();
const markdown = [
  `# bench:quality, ${started.toISOString().slice(0, 10)}`,
  '',
  `Command: \`${command}\` at commit ${git.commit}${git.dirty ? ' (with uncommitted changes)' : ''}; ${machine().cpus} CPUs (${machine().cpuModel}), Node ${process.version}.`,
  `Pretraining commands: ${[...new Set(runs.map((r) => `\`${r.command.replace(/--seed \d+/, '--seed <seed>').replace(/--epochs \d+/, '--epochs <fitted>').replace(/seed-\d+/, 'seed-<seed>')}\``))].join(', ')} at commit${[...new Set(runs.map((r) => r.git.commit))].length > 1 ? 's' : ''} ${[...new Set(runs.map((r) => r.git.commit))].join(', ')}.`,
  '',
  table,
  '',
  ...notes,
  '',
].join('\n');
const files = writeResults('quality', markdown, { command, git, machine: machine(), started: started.toISOString(), options, targets, perSeed }, runsDir);
console.log(`\nResults written to ${files.map((f) => path.relative(process.cwd(), f)).join(' and ')}${options.runs ? `; runs kept in ${runsDir}` : ''}.`);
if (!options.runs) fs.rmSync(runsDir, { recursive: true, force: true });
