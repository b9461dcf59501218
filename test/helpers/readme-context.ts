import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * The temporary world the README test (test/repo/readme.test.ts) runs README.md's lines in: a
 * copy of the repository's files (so its `npm run build` never rewrites the out/ that other tests
 * use; node_modules linked), a temporary HOME (so the default data folder, `~/...` paths and npm's
 * cache are temporary too) and small image folders from ../shared/datasets (tiny, cifar10-dev).
 */

/** Everything a README line runs against. */
export interface RunContext {
  /** Temporary folder holding everything below; removed by `disposeContext`. */
  root: string;
  /** The copy of the repository (committed and new files; node_modules linked), the cwd of every line. */
  repo: string;
  home: string;
  /** The default data folder under the temporary HOME (Linux: ~/.local/share/jigclu-studio). */
  dataDir: string;
  /** Class folders for knn/embed/cluster/finetune/predict: train/<class>/ and test/<class>/. */
  photos: string;
  /** ~/Pictures/birds: a flat folder of 8 images. */
  birds: string;
  /** Where the lines' output files go (backbone/, classifier/, *.csv, ...). */
  outputs: string;
  /** A port that was free when the context was made, for lines that name one. */
  port: number;
  env: NodeJS.ProcessEnv;
  /** package.json's scripts. */
  scripts: Record<string, string>;
  /** Pretraining runs the lines made, oldest first, with the image count each trained on. */
  runs: { dir: string; images: number }[];
  /** DDP job folders the lines exported (`jigclu export-job`), oldest first. */
  jobs: string[];
  /** Whether a line has run `npm run build` in this context. */
  built: boolean;
  /** Whether an `npx jigclu` line has run as written (later ones run its bin directly). */
  npxRan: boolean;
}

/** Copies the repository's committed and new (not ignored) files, with git's file modes, and links node_modules. */
function copyRepository(from: string, to: string): void {
  const git = (args: string[]): string => {
    const result = spawnSync('git', args, { cwd: from, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    if (result.status !== 0)
      throw new Error(`git ${args.join(' ')} failed in ${from}: ${result.stderr || result.error?.message}`);
    return result.stdout;
  };
  const modes = new Map<string, string>();
  for (const entry of git(['ls-files', '-s', '-z']).split('\0').filter(Boolean)) {
    const [meta, file] = entry.split('\t') as [string, string];
    modes.set(file, meta.split(' ')[0]!);
  }
  for (const file of git(['ls-files', '--cached', '--others', '--exclude-standard', '-z'])
    .split('\0')
    .filter(Boolean)) {
    const source = path.join(from, file);
    const stat = fs.lstatSync(source, { throwIfNoEntry: false });
    if (!stat || stat.isDirectory()) continue;
    const target = path.join(to, file);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    if (stat.isSymbolicLink()) {
      fs.symlinkSync(fs.readlinkSync(source), target);
      continue;
    }
    fs.copyFileSync(source, target);
    const mode = modes.get(file);
    fs.chmodSync(target, mode ? (mode === '100755' ? 0o755 : 0o644) : stat.mode & 0o777);
  }
  fs.symlinkSync(path.join(from, 'node_modules'), path.join(to, 'node_modules'));
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The image files of each class folder of a dataset, by name. */
function classImages(dataset: string): [string, string[]][] {
  return fs
    .readdirSync(dataset)
    .sort()
    .filter((name) => fs.statSync(path.join(dataset, name)).isDirectory())
    .map((name) => [
      name,
      fs
        .readdirSync(path.join(dataset, name))
        .sort()
        .map((file) => path.join(dataset, name, file)),
    ]);
}

function copyInto(files: string[], folder: string): void {
  fs.mkdirSync(folder, { recursive: true });
  for (const file of files)
    fs.copyFileSync(file, path.join(folder, `${path.basename(path.dirname(file))}-${path.basename(file)}`));
}

/**
 * Makes the temporary repository copy, HOME, data folder and image folders the lines run against:
 * photos/train is ../shared/datasets/tiny (8 images of each of 3 classes: enough labels for the
 * fine-tune's held-out split, which is quicker than the k-fold of fewer), photos/test 3 images of
 * each of those classes from cifar10-dev/test.
 */
export async function prepareContext(repoRoot: string, tiny: string, cifarTest: string): Promise<RunContext> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-readme-'));
  const repo = path.join(root, 'repo');
  copyRepository(repoRoot, repo);
  // A clone sees ../shared beside it, as the checkout does.
  const shared = path.resolve(repoRoot, '..', 'shared');
  if (fs.existsSync(shared)) fs.symlinkSync(shared, path.join(root, 'shared'));
  const home = path.join(root, 'home');
  const photos = path.join(root, 'photos');
  const birds = path.join(home, 'Pictures', 'birds');
  for (const [name, files] of classImages(tiny)) {
    copyInto(files, path.join(photos, 'train', name));
    copyInto(
      classImages(cifarTest)
        .find(([other]) => other === name)![1]
        .slice(0, 3),
      path.join(photos, 'test', name),
    );
  }
  copyInto(
    classImages(tiny)
      .flatMap(([, files]) => files.slice(0, 3))
      .slice(0, 8),
    birds,
  );
  const outputs = path.join(root, 'outputs');
  fs.mkdirSync(outputs);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: home,
    ELECTRON_SKIP_BINARY_DOWNLOAD: '1',
    npm_config_update_notifier: 'false',
    npm_config_cache: path.join(root, 'npm-cache'),
  };
  for (const name of ['JIGCLU_DATA_DIR', 'XDG_DATA_HOME', 'JIGCLU_STEP_DELAY_MS']) delete env[name];
  const scripts = (
    JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    }
  ).scripts;
  return {
    root,
    repo,
    home,
    dataDir: path.join(home, '.local', 'share', 'jigclu-studio'),
    photos,
    birds,
    outputs,
    port: await freePort(),
    env,
    scripts,
    runs: [],
    jobs: [],
    built: false,
    npxRan: false,
  };
}

export function disposeContext(context: RunContext): void {
  fs.rmSync(context.root, { recursive: true, force: true });
}

/** Files of the repository copy, outside out/ and node_modules/. */
export function repoFiles(repo: string): Set<string> {
  const files = new Set<string>();
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      const relative = path.relative(repo, file);
      if (relative === 'out' || relative === 'node_modules') continue;
      if (entry.isDirectory()) walk(file);
      else files.add(relative);
    }
  };
  walk(repo);
  return files;
}
