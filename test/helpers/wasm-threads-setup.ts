/**
 * vitest setup file: with JIGCLU_TEST_WASM_THREADS=N every test file's 'wasm' backend is the
 * threaded build on N threads (main/engine/backend/wasm-threads.ts) and the backend of any test that
 * chooses none, so the whole suite can be run on 1 and on N threads. Unset (the default), the
 * tests use what they set up themselves.
 */
const threads = process.env.JIGCLU_TEST_WASM_THREADS;
if (threads) {
  const count = Number(threads);
  if (!Number.isInteger(count) || count < 1) throw new Error(`JIGCLU_TEST_WASM_THREADS must be a whole number of at least 1, not ${threads}.`);
  const { useWasmThreads } = await import('../../main/engine/backend/wasm-threads');
  await useWasmThreads(count);
  // Registering the wasm backend makes it tfjs's first choice: start it now, as tests that set
  // no backend would otherwise find it registered but not yet initialised.
  const tf = await import('../../main/engine/backend/tfjs');
  if (!(await tf.setBackend('wasm'))) throw new Error(`the wasm engine did not start on ${count} threads`);
}

export {};
