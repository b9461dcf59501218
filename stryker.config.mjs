/**
 * StrykerJS mutation testing of the training core, run by `npm run test:mutation`
 * (test/mutation/run.mjs), one target at a time: the driver passes the files to mutate and the
 * narrow set of test files that must kill their mutants (test/mutation/targets.mjs). Not part of
 * `npm test` (it runs the selected tests once per mutant).
 */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.config.ts', related: false },
  coverageAnalysis: 'perTest',
  concurrency: 1,
  // A mutant that makes a loop endless: give up well after the normal run time of its tests.
  timeoutMS: 60_000,
  timeoutFactor: 3,
  // The first run of the selected tests, on a shared, loaded machine.
  dryRunTimeoutMinutes: 60,
  reporters: ['clear-text', 'progress', 'json'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  thresholds: { high: 90, low: 80, break: null },
  ignorePatterns: ['out', 'dist', 'test/output', 'test-results', 'resources/docs', 'reports'],
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
