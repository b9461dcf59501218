import path from 'node:path';
import { defineConfig } from '@playwright/test';

const root = path.resolve(import.meta.dirname, '..', '..');

/**
 * End-to-end tests of the desktop app with Playwright's Electron support. Run them with
 * `npm run test:electron` (test/e2e-electron/run.mjs): it says in one line when Electron's
 * binary is not installed, builds the Electron-ABI better-sqlite3 once, and uses xvfb-run on a
 * Linux machine without a display. They reuse the page objects of the browser-mode tests
 * (test/e2e/pages). Screenshots go to test/output/e2e-electron/.
 */
export default defineConfig({
  testDir: import.meta.dirname,
  testMatch: '**/*.spec.ts',
  outputDir: path.join(root, 'test', 'output', 'e2e-electron', 'results'),
  workers: 1,
  timeout: 120_000,
  expect: { timeout: 15_000 },
  reporter: [['list']],
  use: {
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
  },
});
