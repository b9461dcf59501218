/**
 * Entry of `npm start`: launches the Electron app when Electron's binary is installed, and
 * otherwise says so in one sentence and starts browser mode instead.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from './cli/program';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const electronPackage = path.join(root, 'node_modules', 'electron');

/** The Electron executable, when its binary was downloaded (node_modules/electron/dist). */
export function electronBinary(): string | undefined {
  // Do not require('electron') here: without the binary it tries to download it.
  const pathFile = path.join(electronPackage, 'path.txt');
  if (!fs.existsSync(pathFile)) return undefined;
  const binary = path.join(electronPackage, 'dist', fs.readFileSync(pathFile, 'utf8').trim());
  return fs.existsSync(binary) ? binary : undefined;
}

/**
 * better-sqlite3 talks to V8 directly (not N-API), so Electron needs its own build. We build one
 * into out/native/electron-<abi>/ from a copy of the package, leaving node_modules (the Node
 * build used by the CLI and tests) untouched. Needs Electron's headers, which node-gyp fetches
 * once from Electron's download site.
 */
function ensureElectronSqlite(): string {
  const abi = fs.readFileSync(path.join(electronPackage, 'abi_version'), 'utf8').trim();
  const target = path.join(root, 'out', 'native', `electron-${abi}`, 'better_sqlite3.node');
  if (fs.existsSync(target)) return target;
  const electronVersion = (JSON.parse(fs.readFileSync(path.join(electronPackage, 'package.json'), 'utf8')) as { version: string }).version;
  const work = path.join(root, 'out', 'native', 'better-sqlite3-electron');
  fs.rmSync(work, { recursive: true, force: true });
  fs.cpSync(path.join(root, 'node_modules', 'better-sqlite3'), work, {
    recursive: true,
    filter: (source) => !source.includes(`${path.sep}build${path.sep}`),
  });
  console.log(`Building better-sqlite3 for Electron ${electronVersion} (once; about a minute)...`);
  const gyp = path.join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  const result = spawnSync(
    process.execPath,
    [gyp, 'rebuild', '--release', `--target=${electronVersion}`, `--arch=${process.arch}`, '--dist-url=https://electronjs.org/headers'],
    { cwd: work, stdio: 'inherit' },
  );
  if (result.status !== 0) {
    throw new Error('Building better-sqlite3 for Electron failed (see the output above); `npm run serve` runs the browser mode without it.');
  }
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.copyFileSync(path.join(work, 'build', 'Release', 'better_sqlite3.node'), target);
  return target;
}

/** The flag with which `npm run dist` and `npm run test:electron` ask for that build, copied into a folder. */
const buildForDistFlag = '--build-electron-sqlite';

async function main(): Promise<void> {
  // electron/dist.mjs ships the copy from out/native/dist/<arch>/; test/e2e-electron/run.mjs only needs the build.
  if (process.argv[2] === buildForDistFlag) {
    const destination = process.argv[3];
    if (!destination) throw new Error(`${buildForDistFlag} needs the folder to copy better_sqlite3.node into.`);
    const built = ensureElectronSqlite();
    fs.mkdirSync(destination, { recursive: true });
    fs.copyFileSync(built, path.join(destination, 'better_sqlite3.node'));
    return;
  }
  const binary = electronBinary();
  if (!binary) {
    console.log(
      "Electron's binary is not installed here (node_modules/electron/dist is missing), so JigClu Studio is starting in browser mode instead: open the URL below.",
    );
    await runCli([process.argv[0] ?? 'node', 'jigclu', ...process.argv.slice(2), 'serve']);
    return;
  }
  ensureElectronSqlite();
  const child = spawn(binary, [root, ...process.argv.slice(2)], { stdio: 'inherit' });
  child.on('exit', (code) => process.exit(code ?? 0));
}

main().catch((error: unknown) => {
  const command = process.argv[2] === buildForDistFlag ? `launch ${buildForDistFlag}` : 'npm start';
  console.error(`${command}: ${(error as Error).message}`);
  process.exit(1);
});
