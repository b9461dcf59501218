/**
 * `npm run dist`: installers for the current platform and architecture with electron-builder
 * (its configuration is the "build" section of package.json). Plain JavaScript run by Node, so
 * it can say why it stops before anything is built.
 *
 *   1. Electron's binary must be installed (node_modules/electron/dist): electron-builder
 *      packages that copy (`electronDist`) rather than downloading another. Without it this
 *      prints one sentence and exits with code 1. `JIGCLU_ELECTRON_DIST` points elsewhere.
 *   2. `electron-vite build` (out/).
 *   3. better-sqlite3 for Electron's ABI: node_modules keeps the Node build (the CLI and the
 *      tests need it; `npmRebuild` is off), so the launcher of `npm start` builds the Electron
 *      copy (main/launch.ts) and it lands in out/native/dist/<arch>/, which the
 *      configuration ships as <resources>/native/better_sqlite3.node (electron/native.ts).
 *   4. electron-builder, for this platform's targets and this machine's architecture only: the
 *      native modules installed here (sharp's @img package, tfjs-node) are this arch's.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const defaultElectronDist = path.join('node_modules', 'electron', 'dist');
const electronDist = path.resolve(root, process.env.JIGCLU_ELECTRON_DIST || defaultElectronDist);

/** Prints one sentence and exits with code 1 (no stack trace). */
function stop(sentence) {
  console.error(sentence);
  process.exit(1);
}

/** True when `dir` holds an unpacked Electron for this platform. */
function hasElectronBinary(dir) {
  const executable = { darwin: 'Electron.app', win32: 'electron.exe' }[process.platform] ?? 'electron';
  return fs.existsSync(path.join(dir, executable));
}

if (!hasElectronBinary(electronDist)) {
  const shown = path.relative(root, electronDist) || electronDist;
  stop(
    `npm run dist needs Electron's binary, which is not installed here (${shown} is missing or empty: npm install downloads it from github.com, which could not be reached or was skipped), so run \`npx install-electron\` on a network that reaches github.com (or with ELECTRON_MIRROR set to a mirror of Electron's releases) and then \`npm run dist\` again.`,
  );
}

/** Runs a Node script with the same Node, output shown; stops with one sentence if it fails. */
function runNode(args, what) {
  const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) stop(`npm run dist stopped: ${what} failed (see the output above).`);
}

runNode([path.join(root, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js'), 'build'], 'electron-vite build');

const nativeDir = path.join(root, 'out', 'native', 'dist', process.arch);
fs.rmSync(nativeDir, { recursive: true, force: true });
runNode([path.join(root, 'out', 'main', 'launch.js'), '--build-electron-sqlite', nativeDir], "building better-sqlite3 for Electron's ABI");

const { Arch, Platform, build } = await import('electron-builder');
const config = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).build;
const platform = Platform.current();
const targetNames = [config[platform.buildConfigurationKey]?.target ?? []]
  .flat()
  .map((target) => (typeof target === 'string' ? target : target.target));
const arch = Arch[process.arch === 'arm' ? 'armv7l' : process.arch];
if (arch === undefined) stop(`npm run dist cannot build for this machine's architecture (${process.arch}).`);

try {
  const files = await build({
    targets: platform.createTarget(targetNames, arch),
    publish: 'never',
    ...(process.env.JIGCLU_ELECTRON_DIST ? { config: { electronDist } } : {}),
  });
  console.log(`npm run dist: built ${files.map((file) => path.relative(root, file)).join(', ')}`);
} catch (error) {
  stop(`npm run dist stopped: electron-builder failed: ${error instanceof Error ? error.message : String(error)}`);
}
