import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/library';

/**
 * `npm run test:electron` where Electron's binary is missing (CI sets
 * ELECTRON_SKIP_BINARY_DOWNLOAD=1): every spec must be reported as skipped, with the reason,
 * and none counted as passed.
 */
const electronPackage = path.join(repoRoot, 'node_modules', 'electron');
const pathFile = path.join(electronPackage, 'path.txt');
const installed = fs.existsSync(pathFile) && fs.existsSync(path.join(electronPackage, 'dist', fs.readFileSync(pathFile, 'utf8').trim()));
if (installed) console.warn("electron-runner.test.ts: Electron's binary is installed here, so test:electron runs the specs instead of skipping them");

describe.skipIf(installed)('the Electron e2e runner without the binary', () => {
  it('reports each spec as skipped, says why, and counts none as passed', () => {
    const specs = fs.readFileSync(path.join(repoRoot, 'test', 'e2e-electron', 'app.spec.ts'), 'utf8').match(/^test\('/gm)?.length ?? 0;
    expect(specs).toBeGreaterThan(0);
    const run = spawnSync(process.execPath, [path.join(repoRoot, 'test', 'e2e-electron', 'run.mjs')], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
    const output = run.stdout + run.stderr;
    expect(run.status, output).toBe(0);
    expect(output).toMatch(/Electron e2e tests skipped: the Electron binary is not installed/);
    expect(output).toMatch(new RegExp(`^\\s*${specs} skipped$`, 'm'));
    expect(output).not.toMatch(/\bpassed\b/);
  }, 120_000);
});
