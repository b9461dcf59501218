import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoFiles, type RunContext } from './readme-context';
import { jigcluArgs, jigcluCommand, splitShell, type ReadmeCommand } from './readme-parse';

/**
 * Runs the command lines of README.md (test/repo/readme.test.ts) as a new user would, in the
 * temporary world of readme-context.ts. What the README's placeholders stand for, which lines are
 * shortened, which run as servers and which cannot run here, and what a line claims beyond exit 0
 * are the tables below: extend them when the README gains a command.
 */

/** A README placeholder and the real path it stands for. */
export interface Placeholder {
  /** As the README writes it. */
  text: string;
  /** Where in a word it is replaced: the whole word, its start, or anywhere. */
  at: 'word' | 'start' | 'anywhere';
  to: (context: RunContext) => string;
  /** Said in the test's log. */
  means: string;
}

function newestRun(context: RunContext): string {
  const run = context.runs.at(-1);
  if (!run)
    throw new Error('<run> stands for the newest pretraining run, and no README line before it pretrained');
  return run.dir;
}

/** What the README's placeholders and example paths stand for. */
export const placeholders: Placeholder[] = [
  {
    text: '~/Pictures/birds',
    at: 'start',
    to: (c) => c.birds,
    means: '8 images of ../shared/datasets/tiny under the temporary HOME',
  },
  {
    text: '<run>',
    at: 'anywhere',
    to: (c) => path.basename(newestRun(c)),
    means: 'the newest run folder (the last pretrain line before it)',
  },
  {
    text: '<run-or-checkpoint>',
    at: 'word',
    to: (c) => {
      if (!c.runs[0])
        throw new Error(
          '<run-or-checkpoint> stands for the first pretraining run, and no README line before it pretrained',
        );
      return c.runs[0].dir;
    },
    means:
      "the first run folder (the README's first pretrain: cpu-small on the sample set, the quickest backbone)",
  },
  {
    text: 'photos/',
    at: 'start',
    to: (c) => `${c.photos}/`,
    means:
      'class folders: train/ = ../shared/datasets/tiny (3 x 8 images), test/ = 3 x 3 images of cifar10-dev/test',
  },
  {
    text: 'backbone/',
    at: 'word',
    to: (c) => `${path.join(c.outputs, 'backbone')}/`,
    means: 'a temporary output folder',
  },
  {
    text: 'classifier/',
    at: 'start',
    to: (c) => `${path.join(c.outputs, 'classifier')}/`,
    means: 'a temporary output folder',
  },
  ...['resnet.safetensors', 'embeddings.csv', 'clusters.csv', 'predictions.csv', 'quality.json'].map((file): Placeholder => ({
    text: file,
    at: 'word',
    to: (c) => path.join(c.outputs, file),
    means: 'a temporary output file',
  })),
  {
    text: 'jobs/',
    at: 'start',
    to: (c) => `${path.join(c.outputs, 'jobs')}/`,
    means: 'a temporary folder for DDP job folders',
  },
  {
    text: '<job>',
    at: 'anywhere',
    to: (c) => {
      const job = c.jobs.at(-1);
      if (!job) throw new Error('<job> stands for the newest job folder, and no README line before it ran jigclu export-job');
      return path.basename(job);
    },
    means: 'the newest DDP job folder (the last export-job line before it)',
  },
  {
    text: '8642',
    at: 'word',
    to: (c) => String(c.port),
    means: 'a free port (8642 may be taken on this machine)',
  },
];

/** Options set on long jigclu commands so the test stays quick (values replaced, or appended). */
export const shortened: Record<string, Record<string, string>> = {
  pretrain: { '--epochs': '1', '--batch': '8' },
  finetune: { '--epochs': '1' },
  evaluate: { '--draws': '1' },
};

/** How one step is run: as a command that ends, as a server that is stopped once it answers, or not here. */
export interface StepRule {
  name: string;
  match: (words: string[], context: RunContext) => boolean;
  /** Why it cannot run on this machine (printed), or undefined to run it. */
  skip?: (context: RunContext) => string | undefined;
  server?: boolean;
  /** The words actually run, said in the log. */
  rewrite?: (words: string[], context: RunContext) => { words: string[]; why: string };
  env?: (context: RunContext) => NodeJS.ProcessEnv;
}

const swiftShader = '/usr/lib/chromium/vk_swiftshader_icd.json';
const isServe = (words: string[]): boolean =>
  (words[0] === 'npm' && words[1] === 'run' && words[2] === 'serve') || jigcluCommand(words) === 'serve';
const engine = (words: string[]): string | undefined =>
  words.includes('--engine') ? words[words.indexOf('--engine') + 1] : undefined;

/** Ordered: the first rule that matches a step decides how it runs; a step no rule matches runs as written. */
export const stepRules: StepRule[] = [
  {
    name: 'npm test',
    match: (w) => w[0] === 'npm' && (w[1] === 'test' || (w[1] === 'run' && w[2] === 'test')),
    skip: () => '`npm test` is what runs this test: it is not run again from inside itself',
  },
  {
    name: 'npm install',
    match: (w) => w[0] === 'npm' && (w[1] === 'install' || w[1] === 'i') && w.length === 2,
    rewrite: (w) => ({
      words: [...w, '--dry-run', '--offline', '--no-audit', '--no-fund'],
      why: 'resolves the install from package.json and package-lock.json without downloading or touching the node_modules the tests run from',
    }),
  },
  {
    name: 'npm start',
    match: (w) => w[0] === 'npm' && (w[1] === 'start' || (w[1] === 'run' && w[2] === 'start')),
    skip: (c) =>
      fs.existsSync(path.join(c.repo, 'node_modules', 'electron', 'path.txt'))
        ? "Electron's binary is installed, so `npm start` opens the desktop window (`npm run test:electron` drives it)"
        : undefined,
    server: true,
  },
  { name: 'browser mode', match: isServe, server: true },
  {
    name: 'webgpu engine',
    match: (w) => engine(w) === 'webgpu',
    skip: (c) =>
      !fs.existsSync(path.join(c.repo, 'node_modules', 'webgpu'))
        ? '--engine webgpu needs the optional webgpu package, which is not installed here'
        : process.env.VK_ICD_FILENAMES || fs.existsSync(swiftShader)
          ? undefined
          : `--engine webgpu needs a GPU or SwiftShader (${swiftShader}, Debian's chromium)`,
    env: () => (process.env.VK_ICD_FILENAMES ? {} : { VK_ICD_FILENAMES: swiftShader }),
  },
  {
    name: 'PyTorch (the DDP trainer of a job)',
    match: (w) => w[0] === 'python3',
    skip: () =>
      spawnSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' }).status === 0
        ? undefined
        : "the job's trainer needs PyTorch: /usr/bin/python3 cannot import torch here (apt-get install python3-torch)",
    rewrite: (w) => {
      const words = ['/usr/bin/python3', ...w.slice(1)];
      const why = ["python3 is Debian's /usr/bin/python3, which has torch (the python3 first on PATH may not)"];
      const launcher = words.indexOf('torch.distributed.run');
      if (launcher > 0) {
        words.splice(launcher + 1, 0, '--redirects', '3:1', '--tee', '3:1');
        why.push("torchrun gets --redirects 3:1 --tee 3:1, without which Debian's torch 1.13 crashes on Python 3.11 (as the README says)");
      }
      return { words, why: why.join('; ') };
    },
  },
  {
    name: 'CUDA engine',
    match: (w) => engine(w) === 'tfjs-node-gpu',
    skip: () =>
      spawnSync('nvidia-smi', { stdio: 'ignore' }).status === 0
        ? undefined
        : '--engine tfjs-node-gpu needs an NVIDIA GPU (no nvidia-smi here)',
  },
];

/** Replaces the README's placeholders in one word; throws naming one that has no entry. */
export function mapWord(word: string, context: RunContext): string {
  let mapped = word;
  for (const placeholder of placeholders) {
    if (placeholder.at === 'word' && mapped === placeholder.text) mapped = placeholder.to(context);
    else if (placeholder.at === 'start' && mapped.startsWith(placeholder.text))
      mapped = placeholder.to(context) + mapped.slice(placeholder.text.length);
    else if (placeholder.at === 'anywhere' && mapped.includes(placeholder.text))
      mapped = mapped.split(placeholder.text).join(placeholder.to(context));
  }
  const unknown = /<[^>]+>/.exec(mapped);
  if (unknown)
    throw new Error(
      `the placeholder ${unknown[0]} has no entry in the README test's table (test/helpers/readme-run.ts, placeholders)`,
    );
  return mapped;
}

/** Sets the shortening options of a jigclu step (replacing the README's values). */
function shorten(words: string[]): string[] {
  const command = jigcluCommand(words);
  const settings = command ? shortened[command] : undefined;
  if (!settings) return words;
  const result = [...words];
  for (const [option, value] of Object.entries(settings)) {
    const at = result.indexOf(option);
    if (at >= 0) result[at + 1] = value;
    else result.push(option, value);
  }
  return result;
}

/** Quotes a word for sh unless it is plain (a leading ~/ stays unquoted so the shell expands it). */
function quote(word: string): string {
  return /^[\w@%+=:,./~-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The outcome of one README line. */
export interface LineResult {
  command: ReadmeCommand;
  status: 'ok' | 'failed' | 'skipped';
  /** What ran (after mapping), why it was skipped, or what went wrong. */
  detail: string;
}

interface StepOutcome {
  /** Exit code, or 128 + the signal's number when a signal ended it. */
  code: number | null;
  output: string;
  /** A problem found beyond the exit code. */
  problem?: string;
}

/** The exit status as a shell reports it (128 + n for signal n). */
function exitCode(code: number | null, signal: NodeJS.Signals | null): number | null {
  return code ?? (signal ? 128 + os.constants.signals[signal] : null);
}

/**
 * Runs a command in its own process group. A command runs to its end. A server must print the URL
 * it serves ("is running at http://127.0.0.1:<port>/?token=..."), answer it with the app page, and
 * is then stopped as Ctrl+C does (SIGINT to its group); stopped so, status 130 (npm's after Ctrl+C)
 * counts as 0, and a server that ends before it is stopped has failed.
 */
function runStep(
  command: string,
  context: RunContext,
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
  server: boolean,
): Promise<StepOutcome> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', `exec ${command}`], { cwd: context.repo, env, detached: true });
    let output = '';
    let problem = server
      ? 'it ended before printing "is running at http://127.0.0.1:<port>/?token=..."'
      : undefined;
    let asked = false;
    let stopped = false;
    const signal = (name: NodeJS.Signals): void => {
      try {
        process.kill(-child.pid!, name);
      } catch {
        // Already gone.
      }
    };
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const url = server
        ? /is running at (http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/.exec(output)?.[1]
        : undefined;
      if (!url || asked) return;
      asked = true;
      fetch(url)
        .then(async (response) => {
          const body = await response.text();
          problem =
            response.status === 200 && body.includes('<div id="app">')
              ? undefined
              : `GET ${url} answered ${response.status} without the app page`;
        })
        .catch((error: unknown) => (problem = `GET ${url} failed: ${(error as Error).message}`))
        .finally(() => {
          stopped = true;
          signal('SIGINT');
        });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const timer = setTimeout(() => {
      problem = `${problem ?? ''} (the README test stopped it after ${timeoutMs / 1000} s)`.trim();
      signal('SIGKILL');
    }, timeoutMs);
    child.on('close', (code, closeSignal) => {
      clearTimeout(timer);
      const status = exitCode(code, closeSignal);
      if (!server) resolve({ code: status, output, problem });
      else if (stopped) resolve({ code: status === 130 ? 0 : status, output, problem });
      else resolve({ code: status, output, problem: problem ?? 'it ended before it was stopped' });
    });
  });
}

/** What a line claims beyond exiting cleanly, checked after it ran: each returns a problem or undefined. */
export const claims: {
  name: string;
  match: (words: string[]) => boolean;
  check: (outcome: StepOutcome, words: string[], context: RunContext) => string | undefined;
}[] = [
  {
    name: 'a resumed run trains on its own images',
    match: (w) => jigcluArgs(w)?.includes('--resume') === true,
    check: ({ output }, words, context) => {
      const target = path.resolve(
        context.repo,
        words[words.indexOf('--resume') + 1]!.replace(/^~(?=\/)/, context.home),
      );
      const run = context.runs.find((candidate) => candidate.dir === target);
      const images = Number(/ on (\d+) images/.exec(output)?.[1]);
      if (!run) return `it resumed ${target}, which no earlier line trained`;
      if (Number.isNaN(images))
        return `its output does not say how many images it trained on ("on N images")`;
      if (images !== run.images) {
        return `the resumed run trained on ${images} images, but ${path.basename(run.dir)} was trained on ${run.images}: \`--resume <run>\` without folders must train on the run's own images (issue 17)`;
      }
      return undefined;
    },
  },
  {
    name: "an imported DDP job is a run trained by torch's DDP",
    match: (w) => jigcluCommand(w) === 'import-job',
    check: ({ output }) =>
      /^Imported .+ \(run \d+, torch DDP x \d+/m.test(output)
        ? undefined
        : 'its output does not say it imported a run trained by "torch DDP x N"',
  },
];

/** The lines of an output that say what went wrong, and its last lines. */
function excerpt(output: string): string {
  const lines = output.trim().split('\n');
  const errors = lines.slice(0, -12).filter((line) => /error|unknown|warning/i.test(line));
  return [...errors, ...lines.slice(-12)].join('\n');
}

/** Runs one line's steps in order (stopping at the first that fails); each step of a jigclu pretrain records its run. */
export async function runLine(
  command: ReadmeCommand,
  context: RunContext,
  log: (line: string) => void,
  timeoutMs = 300_000,
): Promise<LineResult> {
  const done: string[] = [];
  for (const written of command.steps) {
    const rule = stepRules.find((candidate) => candidate.match(written, context));
    const skip = rule?.skip?.(context);
    if (skip) return { command, status: 'skipped', detail: `${written.join(' ')}: ${skip}` };
    let words: string[];
    try {
      words = shorten(written).map((word) => mapWord(word, context));
    } catch (error) {
      return { command, status: 'failed', detail: (error as Error).message };
    }
    const notes: string[] = [];
    if (rule?.rewrite) {
      const rewritten = rule.rewrite(words, context);
      words = rewritten.words;
      notes.push(rewritten.why);
    }
    // `npm start` and `npm run serve` build first: once a line has built, the rest of their script runs.
    const script =
      words[0] === 'npm' ? context.scripts[words[1] === 'run' ? words[2]! : words[1]!] : undefined;
    if (script?.startsWith('npm run build && ') && context.built && words.length <= 3) {
      words = splitShell(script.slice('npm run build && '.length)).words;
      notes.push(`its script builds first, and \`npm run build\` already ran in this test`);
    }
    const npx = words[0] === 'npx' && words[1] === 'jigclu';
    if (npx && context.npxRan) {
      const bin = (
        JSON.parse(fs.readFileSync(path.join(context.repo, 'package.json'), 'utf8')) as {
          bin: Record<string, string>;
        }
      ).bin.jigclu!;
      words = [`./${bin}`, ...words.slice(2)];
      notes.push(
        `\`npx jigclu\` ran as written on an earlier line; here its bin runs directly, without npm's start-up`,
      );
    }
    const shell = words.map(quote).join(' ');
    const before = repoFiles(context.repo);
    const started = performance.now();
    const env = { ...context.env, ...rule?.env?.(context) };
    const outcome = await runStep(shell, context, env, timeoutMs, rule?.server === true);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    log(
      `README line ${command.line}: ${written.join(' ')}\n    ran: ${shell}${notes.length ? ` (${notes.join('; ')})` : ''}\n    exit ${outcome.code} after ${seconds} s`,
    );
    const added = [...repoFiles(context.repo)].filter((file) => !before.has(file));
    const claim = claims.find((candidate) => candidate.match(words));
    const problem =
      outcome.code !== 0
        ? `exit code ${outcome.code}${outcome.problem ? ` (${outcome.problem})` : ''}`
        : /unknown (option|command)/i.test(outcome.output)
          ? 'its output says "unknown option/command"'
          : (outcome.problem ??
            (added.length
              ? `it wrote ${added.join(', ')} into the repository: map that path in the README test's placeholders`
              : claim?.check(outcome, words, context)));
    if (problem)
      return {
        command,
        status: 'failed',
        detail: `${written.join(' ')} (ran: ${shell}): ${problem}\n${excerpt(outcome.output)}`,
      };
    if (words.join(' ') === 'npm run build' || script?.startsWith('npm run build && ')) context.built = true;
    if (npx) context.npxRan = true;
    if (jigcluCommand(words) === 'export-job') {
      const dir = /^Job folder: (.+)$/m.exec(outcome.output)?.[1];
      if (!dir) {
        return {
          command,
          status: 'failed',
          detail: `${written.join(' ')} (ran: ${shell}): its output does not say its job folder ("Job folder: ..."), which later lines use\n${excerpt(outcome.output)}`,
        };
      }
      context.jobs.push(dir);
    }
    if (jigcluCommand(words) === 'pretrain') {
      const dir = /^Run folder: (.+)$/m.exec(outcome.output)?.[1];
      const images = / on (\d+) images/.exec(outcome.output)?.[1];
      if (!dir || !images) {
        const detail = `its output does not say its run folder and image count ("Run folder: ...", "on N images"), which later lines use`;
        return {
          command,
          status: 'failed',
          detail: `${written.join(' ')} (ran: ${shell}): ${detail}\n${excerpt(outcome.output)}`,
        };
      }
      if (!context.runs.some((run) => run.dir === dir)) context.runs.push({ dir, images: Number(images) });
    }
    done.push(shell);
  }
  return { command, status: 'ok', detail: done.join(' && ') };
}
