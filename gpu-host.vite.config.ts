import { builtinModules } from 'node:module';
import { resolve } from 'node:path';
import { defineConfig, type Plugin } from 'vite';

const root = import.meta.dirname;
const nodeBuiltins = new Set([...builtinModules, ...builtinModules.map((name) => `node:${name}`)]);

/**
 * The compute window's page runs sandboxed, with no Node: a Node module imported by any of our
 * files it bundles (main/engine code that grew a file read) fails the build instead of becoming
 * a stub that throws at run time. (Packages map their own Node imports away for browsers.)
 */
const noNodeModules: Plugin = {
  name: 'jigclu-gpu-host-no-node',
  enforce: 'pre',
  resolveId(source, importer) {
    if (nodeBuiltins.has(source) && !importer?.includes('/node_modules/')) this.error(`${importer ?? 'the compute page'} imports ${source}: the compute window's page has no Node.`);
    return null;
  },
};

/**
 * The desktop app's hidden WebGPU compute window (gpu-host/): its page bundles tfjs,
 * tfjs-backend-webgpu and the model code of main/engine, built into out/gpu-host and served as
 * app://gpu-host/ (electron/protocol.ts). `npm run build` builds it after electron-vite.
 */
export default defineConfig({
  root: resolve(root, 'gpu-host'),
  base: './',
  logLevel: 'warn',
  plugins: [noNodeModules],
  build: {
    outDir: resolve(root, 'out/gpu-host'),
    emptyOutDir: true,
    target: 'chrome120',
    // tfjs is large; the page is loaded from the app's own files, never over a network.
    chunkSizeWarningLimit: 4096,
    rollupOptions: { input: resolve(root, 'gpu-host/index.html') },
  },
});
