import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The electron-builder configuration (package.json "build") and `npm run dist`'s guard. No
 * installer is built here (that needs Electron's binary); the configuration is checked against
 * electron-builder's own schema and against what the packaged app needs at run time.
 */

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const packageJson = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  build: BuildConfig;
};
const config = packageJson.build;

type TargetEntry = string | { target: string; arch?: string[] };
interface BuildConfig {
  appId: string;
  productName: string;
  npmRebuild: boolean;
  electronDist?: string;
  directories: { output: string; buildResources: string };
  files: string[];
  fileAssociations?: unknown[];
  asarUnpack: string[];
  extraResources: { from: string; to: string; filter?: string[] }[];
  electronFuses?: Record<string, boolean>;
  linux: { target: TargetEntry[]; icon: string; files?: string[] };
  mac: { target: TargetEntry[]; icon: string; files?: string[] };
  win: { target: TargetEntry[]; icon: string; files?: string[] };
}

// electron-builder's own modules, resolved where electron-builder installed them.
const builderRequire = createRequire(createRequire(import.meta.url).resolve('app-builder-lib'));
const { minimatch } = builderRequire('minimatch') as { minimatch: (file: string, pattern: string, options?: object) => boolean };

/** True when electron-builder's glob list selects `file` (later `!patterns` exclude). */
function selected(patterns: string[], file: string): boolean {
  let result = false;
  for (const pattern of patterns) {
    if (pattern.startsWith('!')) {
      if (minimatch(file, pattern.slice(1), { dot: true })) result = false;
    } else if (minimatch(file, pattern, { dot: true })) result = true;
  }
  return result;
}

/** Width and height from a PNG's IHDR chunk. */
function pngSize(file: string): { width: number; height: number } {
  const header = Buffer.alloc(24);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, header, 0, 24, 0);
  } finally {
    fs.closeSync(fd);
  }
  expect(header.subarray(0, 8).toString('hex'), `${file} is a PNG`).toBe('89504e470d0a1a0a');
  expect(header.subarray(12, 16).toString('latin1'), file).toBe('IHDR');
  return { width: header.readUInt32BE(16), height: header.readUInt32BE(20) };
}

function targetNames(targets: TargetEntry[]): string[] {
  return targets.map((target) => (typeof target === 'string' ? target : target.target));
}

describe('electron-builder configuration', () => {
  it("passes electron-builder's schema", async () => {
    const { validateConfiguration } = builderRequire('app-builder-lib/out/util/config/config.js') as {
      validateConfiguration(config: unknown, logger: unknown): Promise<void>;
    };
    const { DebugLogger } = builderRequire('builder-util') as { DebugLogger: new (enabled: boolean) => unknown };
    await expect(validateConfiguration(config, new DebugLogger(false))).resolves.toBeUndefined();
  });

  it('names the app and builds AppImage + deb, dmg for arm64 and x64, and NSIS, with no file associations', () => {
    expect(config.appId).toBe('studio.jigclu.app');
    expect(config.productName).toBe('JigClu Studio');
    expect(config.directories.buildResources).toBe('resources');
    expect(targetNames(config.linux.target).sort()).toEqual(['AppImage', 'deb']);
    expect(config.mac.target).toEqual([{ target: 'dmg', arch: ['arm64', 'x64'] }]);
    expect(targetNames(config.win.target)).toEqual(['nsis']);
    expect(config.fileAssociations ?? []).toEqual([]);
  });

  it('never rebuilds node_modules in place and packages the installed Electron', () => {
    // An in-place rebuild would replace the Node-ABI better-sqlite3 the CLI and tests load.
    expect(config.npmRebuild).toBe(false);
    expect(config.electronDist).toBe('node_modules/electron/dist');
  });

  it('sets the Electron fuses at packaging: no RunAsNode, no NODE_OPTIONS or --inspect, the app only from its checked asar', () => {
    expect(config.electronFuses).toEqual({
      // The trainer and the engine probe are utility processes (electron/utility-launcher.ts), so nothing needs ELECTRON_RUN_AS_NODE.
      runAsNode: false,
      enableCookieEncryption: true,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
      loadBrowserProcessSpecificV8Snapshot: false,
      grantFileProtocolExtraPrivileges: false,
    });
    // electron-builder applies them with @electron/fuses after copying the binary.
    const packager = fs.readFileSync(builderRequire.resolve('app-builder-lib/out/platformPackager.js'), 'utf8');
    expect(packager).toContain('electronFuses');
    expect(builderRequire.resolve('@electron/fuses')).toBeTruthy();
  });

  it('ships the built app and leaves development output out', () => {
    for (const file of ['out/main/main.js', 'out/main/trainer-process.js', 'out/main/engine-probe.js', 'out/preload/preload.cjs', 'out/renderer/index.html', 'resources/icon.png', 'package.json']) {
      expect(selected(config.files, file), file).toBe(true);
    }
    for (const file of ['out/native/electron-140/better_sqlite3.node', 'out/native/dist/x64/better_sqlite3.node', 'out/types/main/core.d.ts', 'out/test-cli/x.js', 'out/main/main.js.map', 'resources/docs/screens.png', 'resources/sample/blobs/blobs-01.png', 'test/unit/x.test.ts', 'main/core.ts', 'dist/x.AppImage']) {
      expect(selected(config.files, file), file).toBe(false);
    }
  });

  it("unpacks every native module, the wasm binaries and the threaded build's glue from the asar", () => {
    const mustUnpack = [
      'node_modules/better-sqlite3/build/Release/better_sqlite3.node',
      'node_modules/better-sqlite3/lib/index.js',
      'node_modules/sharp/lib/sharp.js',
      'node_modules/@img/sharp-linux-x64/lib/sharp-linux-x64.node',
      'node_modules/@img/sharp-libvips-linux-x64/lib/libvips-cpp.so.8.17.3',
      'node_modules/@img/sharp-darwin-arm64/lib/sharp-darwin-arm64.node',
      'node_modules/@img/sharp-win32-x64/lib/libvips-42.dll',
      'node_modules/@tensorflow/tfjs-node/lib/napi-v8/tfjs_binding.node',
      'node_modules/@tensorflow/tfjs-node/deps/lib/libtensorflow.so.2',
      'node_modules/@tensorflow/tfjs-node-gpu/lib/napi-v8/tfjs_binding.node',
      'node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm',
      'node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm',
      'node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm',
      // The threaded engine's pthread workers read the glue and their own source with plain fs (wasm-threads.ts).
      'node_modules/@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js',
      'node_modules/@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js',
    ];
    for (const file of mustUnpack) expect(selected(config.asarUnpack, file), file).toBe(true);
    // The installed wasm binaries are the ones the patterns name.
    const wasmDir = path.join(repoRoot, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist');
    for (const name of fs.readdirSync(wasmDir).filter((file) => file.endsWith('.wasm'))) {
      expect(selected(config.asarUnpack, `node_modules/@tensorflow/tfjs-backend-wasm/dist/${name}`), name).toBe(true);
    }
    // Plain JavaScript stays inside the asar.
    expect(selected(config.asarUnpack, 'node_modules/vue/dist/vue.runtime.esm-bundler.js')).toBe(false);
    expect(selected(config.asarUnpack, 'out/main/main.js')).toBe(false);
  });

  it("ships only the target platform's Dawn (dawn.node) of the webgpu package, unpacked from the asar", () => {
    const dawn = (dir: string) => `node_modules/webgpu/dist/${dir}/dawn.node`;
    const platforms = [
      { files: config.linux.files, arch: 'x64', own: 'linux-x64' },
      { files: config.linux.files, arch: 'arm64', own: 'linux-arm64' },
      { files: config.mac.files, arch: 'arm64', own: 'darwin-universal' },
      { files: config.win.files, arch: 'x64', own: 'win32-x64' },
    ];
    const all = ['linux-x64', 'linux-arm64', 'darwin-universal', 'win32-x64', 'win32-arm64'];
    for (const { files, arch, own } of platforms) {
      // electron-builder appends a platform's own file patterns, with ${arch} expanded, to the common
      // ones; the dependencies themselves come in by default and the patterns only filter them.
      const patterns = [...config.files, ...(files ?? []).map((pattern) => pattern.replace('${arch}', arch))];
      for (const dir of all) expect(selected(patterns, dawn(dir)), `${own} build: ${dir}`).toBe(dir === own);
    }
    expect(selected(config.asarUnpack, dawn('linux-x64'))).toBe(true);
    expect(selected(config.asarUnpack, dawn('win32-x64').replace('dawn.node', 'dxcompiler.dll'))).toBe(true);
    // The installed package has the folders the patterns name.
    const installed = path.join(repoRoot, 'node_modules', 'webgpu', 'dist');
    if (fs.existsSync(installed)) expect(fs.readdirSync(installed).sort()).toEqual([...all].sort());
  });

  it("ships the Electron-ABI better-sqlite3 where electron/native.ts looks for it", () => {
    const native = config.extraResources.find((entry) => entry.to === 'native');
    expect(native).toEqual({ from: 'out/native/dist/${arch}', to: 'native', filter: ['better_sqlite3.node'] });
    const nativeSource = fs.readFileSync(path.join(repoRoot, 'electron', 'native.ts'), 'utf8');
    expect(nativeSource).toContain("path.join(process.resourcesPath, 'native', 'better_sqlite3.node')");
    // dist.mjs puts the build there, through the launcher's build step.
    const distSource = fs.readFileSync(path.join(repoRoot, 'electron', 'dist.mjs'), 'utf8');
    expect(distSource).toContain("path.join(root, 'out', 'native', 'dist', process.arch)");
    expect(distSource).toContain("'--build-electron-sqlite'");
    expect(fs.readFileSync(path.join(repoRoot, 'main', 'launch.ts'), 'utf8')).toContain("'--build-electron-sqlite'");
  });

  it('ships the sample set of resources/, one folder of images per class', () => {
    expect(config.extraResources).toContainEqual({ from: 'resources/sample', to: 'sample' });
    const sample = path.join(repoRoot, 'resources', 'sample');
    const classes = fs.readdirSync(sample, { withFileTypes: true }).filter((entry) => entry.isDirectory());
    expect(classes.length).toBeGreaterThanOrEqual(2);
    for (const folder of classes) {
      const images = fs.readdirSync(path.join(sample, folder.name)).filter((name) => /\.(png|jpe?g|webp)$/i.test(name));
      expect(images.length, folder.name).toBeGreaterThan(0);
      const first = images[0];
      if (first?.endsWith('.png')) expect(pngSize(path.join(sample, folder.name, first)).width).toBeGreaterThan(0);
    }
  });

  it('ships the DDP trainer where the scale-out service looks for it (resources/scaleout/jigclu_ddp.py)', () => {
    expect(config.extraResources).toContainEqual({ from: 'scaleout', to: 'scaleout', filter: ['jigclu_ddp.py'] });
    expect(fs.existsSync(path.join(repoRoot, 'scaleout', 'jigclu_ddp.py'))).toBe(true);
    expect(fs.readFileSync(path.join(repoRoot, 'main', 'services', 'scaleout.ts'), 'utf8')).toContain("path.join(resourcesPath, 'scaleout', 'jigclu_ddp.py')");
  });

  it('has the icons in resources/ at the sizes their names give', () => {
    expect(config.linux.icon).toBe('resources/icons');
    expect(config.mac.icon).toBe('resources/icon.png');
    expect(config.win.icon).toBe('resources/icon.png');
    const main = pngSize(path.join(repoRoot, 'resources', 'icon.png'));
    // electron-builder makes .icns and .ico from it: square, at least 512 px (256 for Windows).
    expect(main.width).toBe(main.height);
    expect(main.width).toBeGreaterThanOrEqual(512);
    const iconDir = path.join(repoRoot, 'resources', 'icons');
    const sizes = fs.readdirSync(iconDir).filter((name) => name.endsWith('.png'));
    expect(sizes.map((name) => name.replace('.png', ''))).toEqual(expect.arrayContaining(['16x16', '32x32', '48x48', '64x64', '128x128', '256x256', '512x512']));
    for (const name of sizes) {
      const match = /^(\d+)x(\d+)\.png$/.exec(name);
      expect(match, name).not.toBeNull();
      expect(pngSize(path.join(iconDir, name)), name).toEqual({ width: Number(match?.[1]), height: Number(match?.[2]) });
    }
  });
});

describe('npm run dist', () => {
  it('is the guarded script, and npm test ends with the Electron e2e tests', () => {
    expect(packageJson.scripts.dist).toBe('node electron/dist.mjs');
    expect(packageJson.scripts['test:electron']).toBe('node test/e2e-electron/run.mjs');
    expect(packageJson.scripts.test).toMatch(/npm run test:e2e && npm run test:electron$/);
  });

  it("stops with one sentence, exit code 1, when Electron's binary is missing", () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-no-electron-'));
    try {
      for (const electronDist of [path.join(empty, 'missing'), empty]) {
        const result = spawnSync(process.execPath, [path.join(repoRoot, 'electron', 'dist.mjs')], {
          cwd: repoRoot,
          env: { ...process.env, JIGCLU_ELECTRON_DIST: electronDist },
          encoding: 'utf8',
          timeout: 20_000,
        });
        expect(result.status).toBe(1);
        expect(result.stdout).toBe('');
        const lines = result.stderr.trim().split('\n');
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(/^npm run dist needs Electron's binary, which is not installed here \(.+ is missing or empty/);
        expect(lines[0]).toContain('npx install-electron');
        expect(lines[0]).toMatch(/\.$/);
      }
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });
});
