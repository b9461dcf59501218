import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { EngineReport } from '../../main/common/engine';

/**
 * Shared by the library tests (vitest and Playwright; not a test file itself): where the shared
 * datasets are, a temporary copy of broken/ with its two symbolic links, the expected outcome
 * of every broken/ case (README.txt's table, with our documented policy for the 'policy'
 * cases), and a snapshot of a folder to prove it was never written to.
 */

export const repoRoot = path.resolve(import.meta.dirname, '..', '..');

/** ../shared/datasets beside the repository; fails saying so when it is absent. */
export function datasetsDir(): string {
  const dir = path.resolve(repoRoot, '..', 'shared', 'datasets');
  if (!fs.existsSync(dir)) {
    throw new Error(`The shared datasets are missing at ${dir}: the library tests need ../shared/datasets beside the repository.`);
  }
  return dir;
}

/** One shared dataset folder, failing with a clear message when it is absent. */
export function dataset(name: string): string {
  const dir = path.join(datasetsDir(), name);
  if (!fs.existsSync(dir)) throw new Error(`The shared dataset ${dir} is missing: the library tests need it.`);
  return dir;
}

export type Outcome = 'import' | 'reject' | 'ignore';

/**
 * Our policy for broken/'s 'policy' cases (README.md, "Library"): deterministic, and said in
 * the problems list or the image's note.
 */
export const policyOutcomes: Record<string, Outcome> = {
  // Too small to crop patches from: refused with "too small (1x1, below the minimum of 8 px)".
  'one_pixel.png': 'reject',
  // The first frame is imported; the image's note says "animated (6 frames): the first frame is used".
  'animated.gif': 'import',
  // Folders are recursed; the class is the top-level folder ('nested').
  'nested/subfolder/deep_image.jpg': 'import',
};

interface ExpectedCase {
  expect: 'import' | 'reject' | 'ignore' | 'policy';
  what: string;
}

/** Every case of broken_expected.json with the outcome we must produce (policy cases resolved). */
export function brokenExpectations(): Map<string, Outcome> {
  const file = path.join(datasetsDir(), 'broken_expected.json');
  const cases = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, ExpectedCase>;
  const outcomes = new Map<string, Outcome>();
  for (const [name, entry] of Object.entries(cases)) {
    if (entry.expect === 'policy') {
      const outcome = policyOutcomes[name];
      if (!outcome) throw new Error(`broken_expected.json has a policy case ${name} that our policy table does not cover`);
      outcomes.set(name.normalize('NFC'), outcome);
    } else outcomes.set(name.normalize('NFC'), entry.expect);
  }
  return outcomes;
}

/**
 * A writable temporary copy of broken/ with the two symbolic links the shared copy lacks:
 * symlink_loop -> . and dangling_symlink.jpg -> does_not_exist.jpg.
 */
export function brokenCopy(parent: string = os.tmpdir()): string {
  const dir = fs.mkdtempSync(path.join(parent, 'jigclu-broken-'));
  fs.cpSync(dataset('broken'), dir, { recursive: true });
  makeWritable(dir);
  fs.symlinkSync('.', path.join(dir, 'symlink_loop'));
  fs.symlinkSync('does_not_exist.jpg', path.join(dir, 'dangling_symlink.jpg'));
  return dir;
}

/** Gives the owner write access under `dir` (copies of the read-only shared files), so it can be removed. */
export function makeWritable(dir: string): void {
  fs.chmodSync(dir, 0o755);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) makeWritable(full);
    else fs.chmodSync(full, 0o644);
  }
}

/** Every entry under a folder (links not followed) with its type, size, mtime and content hash. */
export function folderSnapshot(dir: string): Record<string, string> {
  const snapshot: Record<string, string> = {};
  const walk = (current: string, rel: string): void => {
    for (const entry of fs.readdirSync(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      const key = rel ? `${rel}/${entry.name}` : entry.name;
      const stat = fs.lstatSync(full);
      if (entry.isSymbolicLink()) snapshot[key] = `link ${fs.readlinkSync(full)} ${stat.mtimeMs}`;
      else if (entry.isDirectory()) {
        snapshot[key] = `dir ${stat.mode} ${stat.mtimeMs}`;
        walk(full, key);
      } else {
        const hash = crypto.createHash('sha256').update(fs.readFileSync(full)).digest('hex');
        snapshot[key] = `file ${stat.mode} ${stat.size} ${stat.mtimeMs} ${hash}`;
      }
    }
  };
  walk(dir, '');
  return snapshot;
}

/** A fixed engine report, so library tests never probe tfjs. */
export const fakeEngineReport: EngineReport = {
  chosen: 'cpu',
  requested: 'auto',
  candidates: [{ name: 'cpu', available: true, reason: 'test' }],
  probeMs: 0,
};

/** Resolves once `check` is true, polling; fails after `timeoutMs` with `what`. */
export async function waitFor(check: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
