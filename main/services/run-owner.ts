import fs from 'node:fs';
import path from 'node:path';

/**
 * Which process trains a run: `owner.json` in the run's folder while it trains. The app and
 * `jigclu pretrain` may share one data folder, so a core that opens finds runs marked running
 * that another live process is training; only those whose owner is gone were left by a process
 * that died (and are marked interrupted).
 */

const ownerFile = 'owner.json';

/** Records this process as the run's trainer. */
export function claimRun(runDir: string): void {
  try {
    fs.mkdirSync(runDir, { recursive: true });
    fs.writeFileSync(path.join(runDir, ownerFile), JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString() }));
  } catch {
    // Without the file another core treats the run as abandoned once it opens: a lesser harm than not training.
  }
}

/** The run is no longer trained by this process. */
export function releaseRun(runDir: string): void {
  try {
    const owner = JSON.parse(fs.readFileSync(path.join(runDir, ownerFile), 'utf8')) as { pid?: number };
    if (owner.pid === process.pid) fs.rmSync(path.join(runDir, ownerFile), { force: true });
  } catch {
    // No file, or another process's: nothing to release.
  }
}

/** True when another live process is training the run in `runDir`. */
export function trainedElsewhere(runDir: string): boolean {
  let pid: unknown;
  try {
    pid = (JSON.parse(fs.readFileSync(path.join(runDir, ownerFile), 'utf8')) as { pid?: unknown }).pid;
  } catch {
    return false;
  }
  if (typeof pid !== 'number' || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
