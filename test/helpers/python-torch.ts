import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from './library';

/** Debian's Python with torch 1.13 (the `python3` first on PATH may be another, without torch). */
export const systemPython = '/usr/bin/python3';

/** Why /usr/bin/python3 cannot run torch here (undefined when it can), in one line. */
export function torchMissing(): string | undefined {
  const probe = spawnSync(systemPython, ['-c', 'import torch, torchvision'], { encoding: 'utf8' });
  if (probe.error) return `${systemPython} could not run (${probe.error.message}); install python3-torch python3-torchvision`;
  if (probe.status !== 0) return `${systemPython} cannot import torch (${probe.stderr.trim().split('\n').pop()}); install python3-torch python3-torchvision`;
  return undefined;
}

/** Runs a script of test/fixtures with a JSON request on stdin; returns its JSON answer. */
export function askPython<T>(script: string, request: unknown): T {
  const file = path.join(repoRoot, 'test', 'fixtures', script);
  const run = spawnSync(systemPython, [file], { input: JSON.stringify(request), encoding: 'utf8', maxBuffer: 256 << 20 });
  if (run.status !== 0) throw new Error(`${script} failed (${run.error?.message ?? `exit ${run.status}`}): ${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}
