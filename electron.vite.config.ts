import { chmodSync } from 'node:fs';
import { join, resolve } from 'node:path';
import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'electron-vite';
import { reglWithoutEval } from './renderer/build/regl-without-eval.mjs';

const root = import.meta.dirname;

/**
 * Leaves out/main/cli.js executable after every build. The `jigclu` bin is bin/jigclu.js (committed
 * executable), but `npx jigclu` run before that change cached a link straight to out/main/cli.js,
 * and a rebuild writes that file anew without its execute bit ("jigclu: Permission denied").
 */
const executableCli = {
  name: 'jigclu-executable-cli',
  writeBundle(options: { dir?: string }) {
    if (options.dir) chmodSync(join(options.dir, 'cli.js'), 0o755);
  },
};

/**
 * One build for the three bundles. `main` holds every Node entry point (Electron's main
 * process, the CLI, browser mode, `npm start`'s launcher and the engine probe), so they share
 * chunks of main/ and find each other beside them in out/main. Dependencies stay external
 * (node_modules); the preload is bundled whole as CommonJS, as sandboxed preloads require.
 */
export default defineConfig({
  main: {
    build: {
      outDir: resolve(root, 'out/main'),
      target: 'node20',
      rollupOptions: {
        plugins: [executableCli],
        input: {
          main: resolve(root, 'electron/main.ts'),
          cli: resolve(root, 'main/cli.ts'),
          serve: resolve(root, 'main/serve.ts'),
          launch: resolve(root, 'main/launch.ts'),
          'engine-probe': resolve(root, 'main/engine/backend/probe-process.ts'),
          'trainer-process': resolve(root, 'main/jobs/trainer-process.ts'),
          'batch-worker': resolve(root, 'main/data/batch-worker.ts'),
          'gpu-bench': resolve(root, 'main/bench/gpu-bench.ts'),
        },
        output: { format: 'es', entryFileNames: '[name].js', chunkFileNames: 'chunk-[name]-[hash].js' },
      },
    },
  },
  preload: {
    build: {
      outDir: resolve(root, 'out/preload'),
      externalizeDeps: false,
      rollupOptions: {
        input: { preload: resolve(root, 'electron/preload.ts'), 'gpu-preload': resolve(root, 'electron/gpu-preload.ts') },
        external: ['electron'],
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve(root, 'renderer'),
    base: './',
    // regl-scatterplot's regl gets its programs compiled ahead of time: the CSP has no 'unsafe-eval'.
    plugins: [vue(), reglWithoutEval()],
    build: {
      outDir: resolve(root, 'out/renderer'),
      rollupOptions: { input: resolve(root, 'renderer/index.html') },
    },
  },
});
