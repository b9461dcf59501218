/**
 * `npm run test:mutation [-- target...]`: StrykerJS mutation testing of the training core, one
 * target at a time (test/mutation/targets.mjs: the files or parts mutated and the test files that
 * must kill their mutants), at low CPU priority. Prints the mutation score per target and writes
 * test/mutation/scores.md (the command, the commit, the table and every surviving mutant), which
 * the README quotes. Exits 1 when a target scores under 80%. `npm run test:mutation -- --report` runs
 * nothing and rewrites scores.md from the targets' latest reports.
 *
 * Score = (killed + timed out) / (killed + timed out + survived + no coverage); mutants disabled
 * in the code with a `// Stryker disable ... : reason` comment (equivalent mutants, each with its
 * reason) are not counted.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mutationTargets } from './targets.mjs';

const root = path.resolve(import.meta.dirname, '..', '..');
const reportDir = path.join(root, 'reports', 'mutation');
const minimum = 80;

// Mutation testing runs the tests hundreds of times: leave the CPU to interactive work.
try {
  os.setPriority(15);
} catch {
  // Not permitted here: run at normal priority.
}

// `--report`: run nothing, rewrite scores.md from each target's latest report.
const reportOnly = process.argv.includes('--report');
const wanted = process.argv.slice(2).filter((arg) => arg !== '--report');
const targets = reportOnly ? [] : mutationTargets().filter((target) => wanted.length === 0 || wanted.includes(target.name));
if (targets.length === 0 && !reportOnly) {
  console.error(`No target named ${wanted.join(', ')}; the targets are ${mutationTargets().map((t) => t.name).join(', ')}.`);
  process.exit(2);
}

/** The checked-out commit, marked when the code or tests differ from it (scores.md, this driver's output, aside). */
function commitOf() {
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).stdout.trim();
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'main', 'test', ':!test/mutation/scores.md'], { cwd: root, encoding: 'utf8' }).stdout.trim() !== '';
  return `${commit}${dirty ? ' (with uncommitted changes)' : ''}`;
}

const stryker = path.join(root, 'node_modules', '@stryker-mutator', 'core', 'bin', 'stryker.js');
fs.mkdirSync(reportDir, { recursive: true });
for (const target of targets) {
  const targetStarted = Date.now();
  // Stryker copies the code and tests when it starts: that is the commit its report belongs to.
  const commit = commitOf();
  console.log(`\n== ${target.name}: mutating ${target.mutate.join(', ')}; tests ${target.tests.join(', ')}`);
  const run = spawnSync(process.execPath, [stryker, 'run', 'stryker.config.mjs', '--mutate', target.mutate.join(','), '--testFiles', target.tests.join(',')], { cwd: root, stdio: 'inherit' });
  if (run.status !== 0) {
    console.error(`Stryker failed on ${target.name} (exit ${run.status}).`);
    process.exit(1);
  }
  fs.renameSync(path.join(reportDir, 'mutation.json'), path.join(reportDir, `${target.name}.json`));
  const record = { commit, date: new Date().toISOString().slice(0, 16).replace('T', ' '), minutes: Math.round((Date.now() - targetStarted) / 60000) };
  fs.writeFileSync(path.join(reportDir, `${target.name}.run.json`), JSON.stringify(record));
}

/** Counts of a target's report, over the mutants of the mutated ranges. */
function summarise(target) {
  const report = JSON.parse(fs.readFileSync(path.join(reportDir, `${target.name}.json`), 'utf8'));
  const counts = { Killed: 0, Timeout: 0, Survived: 0, NoCoverage: 0, Ignored: 0, CompileError: 0, RuntimeError: 0 };
  const survivors = [];
  for (const [file, { mutants }] of Object.entries(report.files)) {
    for (const mutant of mutants) {
      counts[mutant.status] = (counts[mutant.status] ?? 0) + 1;
      if (mutant.status === 'Survived' || mutant.status === 'NoCoverage') {
        survivors.push(`${file}:${mutant.location.start.line} ${mutant.mutatorName} -> \`${(mutant.replacement ?? '').replace(/\s+/g, ' ').slice(0, 80)}\` (${mutant.status})`);
      }
    }
  }
  const detected = counts.Killed + counts.Timeout;
  const valid = detected + counts.Survived + counts.NoCoverage;
  return { counts, survivors, score: valid ? (100 * detected) / valid : 100, valid };
}

// Every target's latest report (those not rerun now keep their previous one).
const rows = mutationTargets()
  .filter((target) => fs.existsSync(path.join(reportDir, `${target.name}.json`)))
  .map((target) => ({ target, ...summarise(target) }));
/** Where and when a target's latest report was made (its .run.json beside it). */
function runOf(target) {
  const file = path.join(reportDir, `${target.name}.run.json`);
  if (!fs.existsSync(file)) return 'not recorded';
  const run = JSON.parse(fs.readFileSync(file, 'utf8'));
  return `${run.commit}, ${run.date}, ${run.minutes} min`;
}
const header = '| target | mutated | tests | mutants | killed | timeout | survived | no coverage | disabled (reasons in code) | score | run (commit, UTC, time) |';
const table = [
  header,
  '|---|---|---|---|---|---|---|---|---|---|---|',
  ...rows.map(({ target, counts, score, valid }) => `| ${target.name} | ${target.mutate.join('<br>')} | ${target.tests.join('<br>')} | ${valid} | ${counts.Killed} | ${counts.Timeout} | ${counts.Survived} | ${counts.NoCoverage} | ${counts.Ignored} | ${score.toFixed(1)}% | ${runOf(target)} |`),
];
console.log(`\nMutation score per target (minimum ${minimum}%):`);
for (const { target, score, valid } of rows) console.log(`  ${target.name.padEnd(14)} ${score.toFixed(1).padStart(5)}%  of ${valid} mutants`);

const missing = mutationTargets().filter((target) => !fs.existsSync(path.join(reportDir, `${target.name}.json`)));
const survivors = rows.flatMap(({ target, survivors: list }) => list.map((line) => `- ${target.name}: ${line}`));
fs.writeFileSync(
  path.join(root, 'test', 'mutation', 'scores.md'),
  [
    '# Mutation scores of the training core',
    '',
    `Written by \`npm run test:mutation${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\` (test/mutation/run.mjs) at commit ${commitOf()}, ${new Date().toISOString().slice(0, 10)}, from each target's latest report (reports/mutation/, not kept in git; the last column says at which commit and when each ran). StrykerJS ${JSON.parse(fs.readFileSync(path.join(root, 'node_modules', '@stryker-mutator', 'core', 'package.json'), 'utf8')).version} with the vitest runner.`,
    '',
    ...table,
    '',
    '## Targets without a report',
    '',
    ...(missing.length ? missing.map((target) => `- ${target.name}: ${target.mutate.join(', ')} (never run here, or its last run did not finish)`) : ['None.']),
    '',
    '## Surviving mutants',
    '',
    ...(survivors.length ? survivors : ['None.']),
    '',
  ].join('\n'),
);
const failing = rows.filter(({ score }) => score < minimum);
if (failing.length) {
  console.error(`Below ${minimum}%: ${failing.map(({ target }) => target.name).join(', ')}.`);
  process.exit(1);
}
