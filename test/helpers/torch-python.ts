import { spawnSync } from 'node:child_process';

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
