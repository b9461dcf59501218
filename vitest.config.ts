import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'vitest/config';

/** Unit, contract and store tests (Node); renderer tests opt into happy-dom per file. */
export default defineConfig({
  plugins: [vue()],
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/e2e/**', 'node_modules/**'],
    environment: 'node',
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // JIGCLU_TEST_WASM_THREADS=N runs the wasm tests on the threaded engine (see the file).
    setupFiles: ['test/helpers/wasm-threads-setup.ts'],
    benchmark: { include: ['test/bench/**/*.bench.ts'] },
  },
});
