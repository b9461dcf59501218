#!/usr/bin/env node
/**
 * The issue-18 codemod: moves main/engine into sub-folders by concern and test/ files to mirror
 * the source, then rewrites every path that refers to a moved file (relative imports, vi.mock,
 * dynamic import(), paths built from import.meta.dirname / __dirname / new URL(..., import.meta.url),
 * and repository paths written in configs, docs, fixtures and comments).
 *
 * Why a script and not a hand move: other branches add and edit files in main/engine and test/
 * while this one is open, so the move is replayed on the newest main instead of being merged.
 *
 *   node scripts/restructure.mjs            # on a clean checkout: git mv + rewrite + verify
 *   node scripts/restructure.mjs --check    # only verify that every relative import resolves
 *
 * Idempotent: the table maps old paths to new ones, a second run finds nothing left to move, and
 * references written against the old layout (e.g. by a branch merged later) are still rewritten.
 * So a branch opened before the move merges main, commits, and runs this once: the files it added
 * in main/engine, test/engine or test/unit move to their places (after a line in the table) and
 * its imports of moved files are rewritten.
 * A file in main/engine, test/engine or test/unit that the table does not place stops the script
 * before anything moves: add it to the table.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const posix = path.posix;

/** main/engine/<name>.ts -> main/engine/<folder>/<name>.ts */
const engineFolders = {
  backend: ['tfjs', 'backend', 'webgpu', 'webgpu-device', 'sgd-webgpu', 'wasm-threads', 'gpu-host-connection', 'engine-probe', 'probe-process'],
  nn: ['conv', 'ops', 'resnet', 'sgd'],
  weights: ['safetensors', 'torch-layout', 'torch-export', 'checkpoints', 'export', 'foreign-weights'],
  analysis: ['feature-matrix', 'kmeans', 'projection', 'knn'],
  jigclu: [
    'jigclu-model', 'losses', 'decouple', 'trainer', 'jigclu-training', 'remote-trainer', 'parallel-trainer',
    'replica-thread', 'monitor', 'evaluate', 'run-pretraining',
  ],
  classify: ['finetune', 'finetune-backbone', 'finetune-metrics', 'linear-probe', 'splits', 'classifier-model'],
  compute: ['compute-jobs', 'compute-results', 'job-hooks', 'compute-runner', 'export-jobs', 'scaleout-job', 'weights-import', 'quality'],
};

/** test/engine/<name>.test.ts -> test/<folder>/<name>.test.ts */
const engineTests = {
  'engine/backend': ['webgpu', 'wasm-threads'],
  'engine/nn': ['conv', 'resnet', 'sgd', 'batchnorm'],
  'engine/jigclu': ['decouple', 'losses', 'trainer', 'parallel-trainer', 'golden-steps', 'feature-rows', 'full-disk-checkpoint', 'learning-gate'],
  'engine/analysis': ['kmeans', 'kmeans-update', 'projection', 'knn'],
  'engine/classify': ['classifier-model', 'finetune'],
  'engine/weights': ['safetensors', 'export', 'torch-export'],
  'engine/compute': ['classify-job', 'import-weights', 'scaleout-job'],
  jobs: ['trainer-process'],
  data: ['batch-source'],
  common: ['pretrain-config'],
  cli: ['cli', 'cli-resume', 'cli-finetune', 'cli-run-recorded', 'cli-analysis-recorded'],
  scaleout: ['scaleout-port'],
  'gpu-host': ['gpu-host'],
};

/** test/unit/<name>.test.ts -> test/<folder>/<name>.test.ts */
const unitTests = {
  services: [
    'embeddings-service', 'exports-service', 'finetune-service', 'first-run', 'labels-service', 'library-cifar',
    'library-import', 'library-rescan', 'library-resume', 'library-scan', 'media-protocol', 'pretraining-service',
    'pretraining-storage', 'pretraining-workspace', 'storage-guard', 'reference-classes', 'tasks', 'runs-holder',
  ],
  renderer: [
    'charts', 'client', 'clusters-store', 'embedding-map', 'finetune-view', 'label-store', 'line-chart',
    'map-geometry', 'run-form', 'runs-store', 'scaleout-panels', 'storage-alert', 'folder-drop', 'embedding-map-webgl',
    'regl-without-eval', 'use-call', 'backbones-store', 'embedding-map-store', 'similar-store',
  ],
  electron: ['builder-config', 'electron-hardening', 'electron-runner', 'preload', 'gpu-window'],
  jobs: ['trainer-crash-report', 'trainer-host-end'],
  cli: ['library-cli', 'pretrain-resume', 'cpu-time'],
  common: ['cluster-metrics'],
  'engine/backend': ['engine-choice', 'gpu-guidance'],
  'engine/weights': ['checkpoint-files'],
  main: ['log', 'paths'],
  repo: ['readme', 'readme-picture', 'layering', 'engines', 'import-cycles', 'readme-mutation'],
  bench: ['quality-bench', 'eval-size'],
};

/** Test helpers that lived beside the engine tests but serve every tier. */
const helperMoves = {
  'test/engine/built.ts': 'test/helpers/built.ts',
  'test/engine/helpers.ts': 'test/helpers/engine.ts',
  'test/engine/webgpu-helpers.ts': 'test/helpers/webgpu.ts',
};

/** Every known old path -> new path (including files not present in this checkout). */
function buildTable() {
  const table = new Map(Object.entries(helperMoves));
  const put = (from, to) => {
    if (table.has(from)) throw new Error(`restructure: ${from} is placed twice in the table`);
    table.set(from, to);
  };
  for (const [folder, names] of Object.entries(engineFolders)) {
    for (const name of names) put(`main/engine/${name}.ts`, `main/engine/${folder}/${name}.ts`);
  }
  for (const [folder, names] of Object.entries(engineTests)) {
    for (const name of names) put(`test/engine/${name}.test.ts`, `test/${folder}/${name}.test.ts`);
  }
  for (const [folder, names] of Object.entries(unitTests)) {
    for (const name of names) put(`test/unit/${name}.test.ts`, `test/${folder}/${name}.test.ts`);
  }
  return table;
}

const git = (...args) => execFileSync('git', args, { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });

function trackedFiles() {
  return git('ls-files', '-z').split('\0').filter((file) => file && fs.existsSync(path.join(root, file)));
}

/** Folders whose every file must be placed by the table (a new file there stops the script). */
const placedFolders = ['main/engine', 'test/engine', 'test/unit'];

function planMoves(files, table) {
  const moves = new Map();
  const unplaced = [];
  for (const file of files) {
    const dir = posix.dirname(file);
    // main/engine's README.md stays; only its modules are placed.
    if (!placedFolders.includes(dir) || (dir === 'main/engine' && !file.endsWith('.ts'))) continue;
    const to = table.get(file);
    if (to) moves.set(file, to);
    else unplaced.push(file);
  }
  if (unplaced.length > 0) {
    console.error(
      `restructure: no place in the table for\n  ${unplaced.join('\n  ')}\n` +
        'Add each to engineFolders / engineTests / unitTests in scripts/restructure.mjs (nothing was moved).',
    );
    process.exit(1);
  }
  for (const [from, to] of moves) {
    if (fs.existsSync(path.join(root, to))) throw new Error(`restructure: ${to} exists already; cannot move ${from} there`);
  }
  return moves;
}

const codeExtension = /\.(ts|mts|cts|tsx|js|mjs|cjs|vue)$/;
const textExtension = /\.(ts|mts|cts|tsx|js|mjs|cjs|vue|json|md|py|sh|yml|yaml|html|css|txt)$/;
const resolveSuffixes = ['', '.ts', '.vue', '.mts', '.mjs', '.js', '.json', '/index.ts'];

/**
 * Where a relative specifier written in `fromFile` (its path before the move) points: the old
 * repository path of the target, or null. `exists` answers for the layout before the move.
 */
function locate(fromFile, spec, exists, table) {
  const base = posix.normalize(posix.join(posix.dirname(fromFile), spec));
  for (const suffix of resolveSuffixes) {
    const candidate = base + suffix;
    if (exists(candidate) || table.has(candidate)) return { target: candidate, suffix };
  }
  return null;
}

function relativeSpec(fromFile, targetFile, suffix) {
  let target = targetFile;
  if (suffix) target = target.slice(0, target.length - suffix.length);
  let spec = posix.relative(posix.dirname(fromFile), target);
  if (!spec.startsWith('.')) spec = `./${spec}`;
  return spec;
}

/** Import-like contexts: from '…', import('…'), import '…', require('…'), vi.mock('…') and kin. */
const importSpec = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*|\bvi\.(?:mock|doMock|unmock|importActual|importMock)\s*\(\s*)(['"])(\.{1,2}\/[^'"\n]*)\2/g;
/** path.resolve/join(<this file's folder>, 'a', 'b', …): only the leading string literals are read. */
const dirnameCall = /(path\.(?:resolve|join)\(\s*)(import\.meta\.dirname|__dirname|path\.dirname\(fileURLToPath\(import\.meta\.url\)\))((?:\s*,\s*'[^'\n]*')+)/g;
const urlCall = /(new URL\(\s*)'(\.{1,2}\/[^'\n]*)'(\s*,\s*import\.meta\.url\s*\))/g;

/**
 * Rewrites the relative paths `oldFile` names for its new place `newFile`. A path built from the
 * file's own folder is rewritten only when it names something of the source tree (a file, a
 * folder, or a moved path): `path.join(dirname(import.meta.url), 'batch-worker.js')` in an
 * engine module names the bundle beside the built chunk in out/main, not a source file, and
 * must stay as it is.
 */
function rewriteCode(text, oldFile, newFile, exists, mapPath, table, isFolder) {
  const known = (target) => exists(target) || isFolder(target) || table.has(target);
  let out = text.replace(importSpec, (whole, head, quote, spec) => {
    const found = locate(oldFile, spec, exists, table);
    if (!found) return whole;
    const next = relativeSpec(newFile, mapPath(found.target), found.suffix);
    return next === spec ? whole : `${head}${quote}${next}${quote}`;
  });
  out = out.replace(dirnameCall, (whole, head, dirExpr, segmentText) => {
    const segments = [...segmentText.matchAll(/'([^'\n]*)'/g)].map((m) => m[1]);
    const oldTarget = posix.normalize(posix.join(posix.dirname(oldFile), ...segments));
    if (!known(oldTarget)) return whole;
    const newTarget = mapPath(oldTarget);
    let relative = posix.relative(posix.dirname(newFile), newTarget) || '.';
    if (segments.length === 1 && segments[0].startsWith('./') && !relative.startsWith('.')) relative = `./${relative}`;
    const parts = segments.length === 1 ? [relative] : relative.split('/');
    const rebuilt = parts.map((part) => `'${part}'`).join(', ');
    const original = segments.map((part) => `'${part}'`).join(', ');
    return rebuilt === original ? whole : `${head}${dirExpr}, ${rebuilt}`;
  });
  out = out.replace(urlCall, (whole, head, spec, tail) => {
    const oldTarget = posix.normalize(posix.join(posix.dirname(oldFile), spec));
    if (!known(oldTarget)) return whole;
    let relative = posix.relative(posix.dirname(newFile), mapPath(oldTarget));
    if (!relative.startsWith('.')) relative = `./${relative}`;
    return relative === spec ? whole : `${head}'${relative}'${tail}`;
  });
  return out;
}

const escapeRegExp = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Repository paths written out (configs, docs, comments): old path without extension -> new. */
function pathRules(table) {
  const rules = [];
  for (const [from, to] of table) {
    const fromStem = from.replace(/\.ts$/, '');
    const toStem = to.replace(/\.ts$/, '');
    // backend.ts shares its name with its folder: "main/engine/backend" in prose after the move
    // means the folder, so that file is recognised only with its extension or in quotes.
    const end = posix.basename(fromStem) in engineFolders ? '(?=\\.ts\\b|[\'"`])' : '(?![\\w/-])';
    rules.push({ pattern: new RegExp(`(?<![\\w-])${escapeRegExp(fromStem)}${end}`, 'g'), replacement: toStem });
    // The same file named from main/ (engine/trainer.ts in a comment of main/services).
    if (from.startsWith('main/engine/')) {
      rules.push({
        pattern: new RegExp(`(?<![\\w/.-])${escapeRegExp(fromStem.slice('main/'.length))}${end}`, 'g'),
        replacement: toStem.slice('main/'.length),
      });
    }
  }
  return rules;
}

function rewritePaths(text, rules) {
  let out = text;
  for (const { pattern, replacement } of rules) out = out.replace(pattern, replacement);
  return out;
}

/** Files the rewrite leaves alone: the table itself and generated or vendored text. */
const untouchable = new Set(['scripts/restructure.mjs', 'package-lock.json']);

/**
 * Whether `index` falls inside a '…' or "…" string opened earlier on its line: an import written
 * as text (a test that writes modules to a temporary folder) is not an import of this file.
 */
function insideString(text, index) {
  let open = null;
  for (let at = text.lastIndexOf('\n', index - 1) + 1; at < index; at += 1) {
    const char = text[at];
    if (char === '\\') at += 1;
    else if (open === null && (char === "'" || char === '"')) open = char;
    else if (char === open) open = null;
  }
  return open !== null;
}

function verify(files) {
  const exists = (file) => fs.existsSync(path.join(root, file)) && fs.statSync(path.join(root, file)).isFile();
  const problems = [];
  for (const file of files) {
    if (!codeExtension.test(file) || untouchable.has(file)) continue;
    const text = fs.readFileSync(path.join(root, file), 'utf8');
    for (const match of text.matchAll(importSpec)) {
      if (insideString(text, match.index)) continue;
      const spec = match[3];
      const base = posix.normalize(posix.join(posix.dirname(file), spec));
      if (!resolveSuffixes.some((suffix) => exists(base + suffix))) problems.push(`${file}: '${spec}' resolves to nothing`);
    }
  }
  // Entry points the build names by path (electron-vite and any other *.config.* file).
  for (const file of files.filter((name) => /(^|\/)[^/]*\.config\.(ts|mts|mjs|js)$/.test(name) || name === 'package.json')) {
    const text = fs.readFileSync(path.join(root, file), 'utf8');
    for (const match of text.matchAll(/['"]((?:main|test|electron|renderer|scripts)\/[\w./-]+\.(?:ts|mts|mjs|vue|html))['"]/g)) {
      if (!exists(match[1])) problems.push(`${file}: names ${match[1]}, which does not exist`);
    }
  }
  return problems;
}

function main() {
  const checkOnly = process.argv.includes('--check');
  const files = trackedFiles();
  if (checkOnly) {
    const problems = verify(files);
    for (const problem of problems) console.error(problem);
    console.log(problems.length === 0 ? 'restructure --check: every relative import resolves.' : `${problems.length} problems`);
    process.exit(problems.length === 0 ? 0 : 1);
  }
  const dirty = git('status', '--porcelain', '--untracked-files=no').trim();
  if (dirty && !process.argv.includes('--force')) {
    console.error('restructure: the work tree has uncommitted changes; commit them first (or pass --force).');
    process.exit(1);
  }

  const table = buildTable();
  const moves = planMoves(files, table);
  const oldFiles = new Set(files);
  const exists = (file) => oldFiles.has(file);
  const oldFolders = new Set(files.flatMap((file) => file.split('/').slice(0, -1).map((_, at, parts) => parts.slice(0, at + 1).join('/'))));
  const isFolder = (folder) => oldFolders.has(folder);
  const mapPath = (file) => moves.get(file) ?? table.get(file) ?? file;

  for (const [from, to] of moves) {
    fs.mkdirSync(path.dirname(path.join(root, to)), { recursive: true });
    git('mv', from, to);
  }
  // A folder emptied by the move goes too (git mv can leave it behind; a stray test/unit/ would
  // stay on disk, unlisted by git, and fail the README's repository-tree test).
  for (const folder of new Set([...moves.keys()].map((from) => path.join(root, posix.dirname(from))))) {
    if (fs.existsSync(folder) && fs.readdirSync(folder).length === 0) fs.rmdirSync(folder);
  }

  const rules = pathRules(table);
  let rewritten = 0;
  for (const oldFile of files) {
    const newFile = mapPath(oldFile);
    if (untouchable.has(oldFile) || !textExtension.test(newFile) && !/(^|\/)(run|[^/.]+)$/.test(newFile)) continue;
    const full = path.join(root, newFile);
    const text = fs.readFileSync(full, 'utf8');
    if (text.includes('\0')) continue;
    let next = text;
    if (codeExtension.test(newFile)) next = rewriteCode(next, oldFile, newFile, exists, mapPath, table, isFolder);
    next = rewritePaths(next, rules);
    if (next !== text) {
      fs.writeFileSync(full, next);
      rewritten += 1;
    }
  }
  git('add', '-A', '--', ...new Set(files.map(mapPath)));

  const problems = verify(trackedFiles());
  console.log(`restructure: moved ${moves.size} files, rewrote paths in ${rewritten}.`);
  if (problems.length > 0) {
    for (const problem of problems) console.error(problem);
    console.error(`restructure: ${problems.length} paths do not resolve after the move; fix the table or the file.`);
    process.exit(1);
  }
}

main();
