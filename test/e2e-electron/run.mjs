/**
 * `npm run test:electron`: the Electron end-to-end tests (Playwright's `_electron`), run where
 * Electron's binary is installed. Without it Playwright still lists every spec, each reported
 * as skipped with the reason (JIGCLU_ELECTRON_SKIP, read by app.spec.ts), so the output counts
 * them as skipped, never as passed, and the run exits 0: npm install stays green where
 * github.com (its download host) is out of reach, and the browser-mode e2e tests
 * (`npm run test:e2e`) cover the same screens there. On Linux without a display it runs them
 * under `xvfb-run`.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const electronPackage = path.join(root, 'node_modules', 'electron');

/** The Electron executable (as main/launch.ts finds it), or undefined without the binary. */
function electronBinary() {
  const pathFile = path.join(electronPackage, 'path.txt');
  if (!fs.existsSync(pathFile)) return undefined;
  const binary = path.join(electronPackage, 'dist', fs.readFileSync(pathFile, 'utf8').trim());
  return fs.existsSync(binary) ? binary : undefined;
}

/** Prints one line and exits with `code`. */
function finish(line, code) {
  console.log(line);
  process.exit(code);
}

function onPath(command) {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => dir && fs.existsSync(path.join(dir, command)));
}

const playwright = [path.join(root, 'node_modules', '@playwright', 'test', 'cli.js'), 'test', '-c', path.join('test', 'e2e-electron', 'playwright.config.ts'), ...process.argv.slice(2)];

const binary = electronBinary();
if (!binary) {
  const reason = 'the Electron binary is not installed (node_modules/electron/dist is missing; `npx install-electron` downloads it from github.com)';
  console.log(`Electron e2e tests skipped: ${reason}.`);
  const listed = spawnSync(process.execPath, playwright, { cwd: root, stdio: 'inherit', env: { ...process.env, JIGCLU_ELECTRON_SKIP: reason } });
  process.exit(listed.status ?? 1);
}
if (!fs.existsSync(path.join(root, 'out', 'main', 'main.js'))) {
  finish('Electron e2e tests not run: the app is not built; run `npm run build` first (`npm test` does it for you).', 1);
}

// The Electron-ABI better-sqlite3 the main process opens the database with (built once, as `npm start` does).
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-electron-sqlite-'));
const built = spawnSync(process.execPath, [path.join(root, 'out', 'main', 'launch.js'), '--build-electron-sqlite', scratch], { cwd: root, stdio: 'inherit' });
fs.rmSync(scratch, { recursive: true, force: true });
if (built.status !== 0) finish("Electron e2e tests failed to start: building better-sqlite3 for Electron's ABI failed (see the output above).", 1);

let command = [process.execPath, ...playwright];
if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
  if (!onPath('xvfb-run')) {
    finish('Electron e2e tests cannot run: there is no display (DISPLAY is unset) and xvfb-run is not installed; install it with `sudo apt-get install -y xvfb`.', 1);
  }
  command = ['xvfb-run', '--auto-servernum', '--server-args=-screen 0 1440x960x24', ...command];
}
const env = { ...process.env, JIGCLU_ELECTRON_BINARY: binary };
delete env.ELECTRON_RUN_AS_NODE;
const result = spawnSync(command[0], command.slice(1), { cwd: root, stdio: 'inherit', env });
process.exit(result.status ?? 1);
