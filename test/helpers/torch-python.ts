import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Running a reference script under Debian's Python (/usr/bin/python3 with python3-torch and
 * python3-torchvision, which .ci/run installs). Not a test file itself. Where that Python or
 * torch is missing the caller gets `reason` (a test then skips, printing it); any other
 * failure of the script throws with its stderr.
 */

export const torchPython = '/usr/bin/python3';

export interface ScriptRun {
  stdout?: string;
  /** Why the script could not run here (no Python, no torch or torchvision). */
  reason?: string;
}

/** Runs `script` with `args`, `input` on stdin; `stdout` or the `reason` torch is unavailable. */
export function runTorchScript(script: string, args: string[] = [], input?: string, timeoutMs = 120_000): ScriptRun {
  const run = spawnSync(torchPython, [script, ...args], { input, encoding: 'utf8', maxBuffer: 256 << 20, timeout: timeoutMs });
  if (run.error) return { reason: `${torchPython} could not run (${run.error.message}); install python3-torch python3-torchvision` };
  if (run.status !== 0) {
    const last = run.stderr.trim().split('\n').pop() ?? '';
    if (/No module named '(torch|torchvision|PIL|numpy)'/.test(last)) return { reason: `${torchPython} lacks a module (${last}); install python3-torch python3-torchvision` };
    throw new Error(`${script} failed (exit ${run.status}): ${run.stderr}`);
  }
  return { stdout: run.stdout };
}

/**
 * Whether torch and torchvision are installed for Debian's Python; the reason when not. It looks
 * them up without importing them (importing torch costs about 1.5 s of CPU, and the scripts import
 * it anyway): a torch that is installed but broken fails the test that runs a script, loudly,
 * instead of skipping it.
 */
export function torchUnavailable(): string | undefined {
  const find = "import importlib.util as u, sys; missing = [m for m in ('torch', 'torchvision') if u.find_spec(m) is None]; sys.exit('No module named ' + repr(missing[0]) if missing else 0)";
  const run = spawnSync(torchPython, ['-c', find], { encoding: 'utf8', timeout: 60_000 });
  if (run.error) return `${torchPython} could not run (${run.error.message}); install python3-torch python3-torchvision`;
  if (run.status !== 0) return `${torchPython} cannot import torch and torchvision (${run.stderr.trim().split('\n').pop() ?? ''}); install python3-torch python3-torchvision`;
  return undefined;
}

/**
 * The test that a committed fixture is what its script (test/fixtures/<script>, run with
 * --check) computes with PyTorch now; skipped, with one printed line, where torch is missing.
 */
export function describeFixtureCheck(testFile: string, script: string, title: string): void {
  const missing = torchUnavailable();
  if (missing) console.warn(`${testFile}: not re-running test/fixtures/${script}: ${missing}`);
  describe.skipIf(missing !== undefined)(title, () => {
    it(`is what test/fixtures/${script} computes with PyTorch now (one command regenerates it)`, () => {
      const run = spawnSync(torchPython, [path.resolve(import.meta.dirname, '../fixtures', script), '--check'], { encoding: 'utf8' });
      expect(run.stdout + run.stderr).toMatch(/matches PyTorch 1\.13/);
      expect(run.status).toBe(0);
    }, 60_000);
  });
}
