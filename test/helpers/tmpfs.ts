import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * A small tmpfs for tests of a full or read-only disk. Mounting needs root and a kernel that
 * lets this process mount (a container may not): where it cannot, `mountTmpfs` says why and
 * the test prints that reason and skips.
 */
export interface Tmpfs {
  dir: string;
  /** Remounts it read-only (root ignores file modes, but not a read-only file system). */
  readOnly(): void;
  unmount(): void;
}

/** Mounts a tmpfs of `bytes` bytes, or returns why it cannot. */
export function mountTmpfs(bytes: number): Tmpfs | { reason: string } {
  if (process.platform !== 'linux') return { reason: `tmpfs needs Linux (this is ${process.platform})` };
  if (process.getuid?.() !== 0) return { reason: 'mounting a tmpfs needs root, and these tests run as another user' };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-tmpfs-'));
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir], { encoding: 'utf8' });
  if (mounted.status !== 0) {
    fs.rmSync(dir, { recursive: true, force: true });
    return { reason: `this machine does not allow mounting a tmpfs (mount said: ${(mounted.stderr || mounted.error?.message || 'nothing').trim()})` };
  }
  return {
    dir,
    readOnly() {
      const result = spawnSync('mount', ['-o', 'remount,ro', dir], { encoding: 'utf8' });
      if (result.status !== 0) throw new Error(`could not remount ${dir} read-only: ${result.stderr}`);
    },
    unmount() {
      spawnSync('umount', ['-l', dir]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A tmpfs for one test, unmounted by `cleanups`; where none can be mounted, prints why and skips
 * the test (reported as skipped, with the reason as its note).
 */
export function tmpfsForTest(bytes: number, context: { skip: (note?: string) => never }, cleanups: (() => void)[]): Tmpfs {
  const mounted = mountTmpfs(bytes);
  if ('reason' in mounted) {
    console.log(`skipped: ${mounted.reason}`);
    context.skip(mounted.reason);
  }
  cleanups.push(() => mounted.unmount());
  return mounted;
}

/** Fills the file system holding `dir` until a write fails with ENOSPC (returns the filler file). */
export function fillDisk(dir: string): string {
  const filler = path.join(dir, 'filler.bin');
  const handle = fs.openSync(filler, 'w');
  const block = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) {
      try {
        fs.writeSync(handle, block);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
        throw error;
      }
    }
    // Then the last few bytes, so not even a small write fits.
    for (;;) {
      try {
        if (fs.writeSync(handle, Buffer.alloc(512, 1)) === 0) break;
      } catch {
        break;
      }
    }
  } finally {
    fs.closeSync(handle);
  }
  return filler;
}
