// npm run bench:eval-size -- --runs <folder> [--seeds 1,2,3 --minutes 10 --draws 3 --per-class 10]
//
// At which size to use a pretrained backbone (issue 15, item 3): the pretraining runs of
// bench:quality (`--runs`: reused when recorded there, else pretrained the same way) evaluated
// with whole images at the patch (crop) size and at the montage size (grid x crop), pretrained
// and random init: kNN top-1, k-means NMI (k = 10) and the 10-label linear probe over 3 label
// draws. Prints one table (mean ± sd over seeds) and writes results/eval-size-<date>.md/.json.
import fs from 'node:fs';
import path from 'node:path';
import { evaluateRun, formatMeanSd, gitState, machine, meanSd, parseArgs, pretrainSeed, writeResults } from './quality-lib.mjs';

const options = parseArgs(process.argv.slice(2), { minutes: 10, seeds: '1,2,3', runs: '', draws: 3, perClass: 10, preset: 'cpu-small', reuseEvaluations: false });
if (!options.runs) throw new Error('give --runs <folder>: the pretraining runs to evaluate (bench:quality --runs keeps them)');
const runsDir = path.resolve(options.runs);
fs.mkdirSync(runsDir, { recursive: true });
const seeds = options.seeds.split(',').map(Number);
const started = new Date();

const results = [];
for (const seed of seeds) {
  const { runDir, record } = pretrainSeed({ runsDir, seed, minutes: options.minutes, preset: options.preset });
  const config = JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8')).config;
  for (const [name, size] of [
    ['crop', config.crop],
    ['montage', config.grid * config.crop],
  ]) {
    const common = { size, draws: options.draws, perClass: options.perClass, fineTune: false, reuse: options.reuseEvaluations };
    results.push({ seed, name, size, pretrain: record, pretrained: evaluateRun(runDir, { ...common, randomInit: false }), random: evaluateRun(runDir, { ...common, randomInit: true }) });
  }
}

const mean = (values) => meanSd(values).mean;
const lines = ['| eval size | metric | pretrained | random init | gain |', '| --- | --- | --- | --- | --- |'];
for (const name of ['crop', 'montage']) {
  const rows = results.filter((r) => r.name === name);
  const label = `${name} (${rows[0].size} px)`;
  for (const [metricName, pick, scale, digits] of [
    ['kNN top-1, %', (r) => r.knn, 100, 1],
    ['k-means NMI', (r) => r.clusters.nmi, 1, 3],
    [`${options.perClass}-label probe, %`, (r) => mean(r.probe), 100, 1],
  ]) {
    const pre = rows.map((r) => pick(r.pretrained));
    const rnd = rows.map((r) => pick(r.random));
    lines.push(`| ${label} | ${metricName} | ${formatMeanSd(pre, { scale, digits })} | ${formatMeanSd(rnd, { scale, digits })} | ${formatMeanSd(pre.map((v, i) => v - rnd[i]), { scale, digits, signed: true })} |`);
  }
}
const table = lines.join('\n');
console.log(`\n${table}`);
const git = gitState();
const command = `npm run bench:eval-size -- ${process.argv.slice(2).join(' ')}`.trim();
const runs = [...new Map(results.map((r) => [r.seed, r.pretrain])).values()];
const markdown = [
  `# bench:eval-size, ${started.toISOString().slice(0, 10)}`,
  '',
  `Command: \`${command}\` at commit ${git.commit}${git.dirty ? ' (with uncommitted changes)' : ''}; ${machine().cpus} CPUs, Node ${process.version}.`,
  `Backbones: ${options.preset} pretrained on cifar10-dev/train, seeds ${seeds.join(', ')} (${runs.map((r) => `${r.epoch} epochs, ${r.imagesSeen.toLocaleString('en')} images seen`).join('; ')}), by \`${runs[0].command}\` at ${[...new Set(runs.map((r) => r.git.commit))].join(', ')}.`,
  `Mean ± sd over the seeds; the probe's value per seed is its mean over ${options.draws} label draws of ${options.perClass} labels per class.`,
  '',
  table,
  '',
].join('\n');
const files = writeResults('eval-size', markdown, { command, git, machine: machine(), started: started.toISOString(), options, results }, runsDir);
console.log(`\nResults written to ${files.map((f) => path.relative(process.cwd(), f)).join(' and ')}.`);
