import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const repoRoot = path.resolve(import.meta.dirname, '..', '..');

/** A built entry point in out/main; fails with what to run when the app is not built. */
export function builtEntry(name: string): string {
  const file = path.join(repoRoot, 'out', 'main', `${name}.js`);
  if (!fs.existsSync(file)) {
    throw new Error(`${file} is missing: run \`npm run build\` first (npm test builds before the unit tests).`);
  }
  return file;
}

/** A shared dataset folder (../shared/datasets/<name>); fails saying so when absent. */
export function sharedDataset(name: string): string {
  const dir = path.resolve(repoRoot, '..', 'shared', 'datasets', name);
  if (!fs.existsSync(dir)) throw new Error(`The shared dataset ${dir} is missing: these tests need ../shared/datasets beside the repository.`);
  return dir;
}

/** Runs the built `jigclu` CLI (`npm run build` first) with `args`: exit code, stdout, stderr and both. */
export function runBuiltCli(args: string[]): { code: number | null; stdout: string; stderr: string; all: string } {
  const result = spawnSync(process.execPath, [builtEntry('cli'), ...args], { encoding: 'utf8', timeout: 180_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr, all: result.stdout + result.stderr };
}
