import path from 'node:path';
import { defineConfig } from '@playwright/test';
import { chromiumFlags, chromiumPath } from './chromium';

const root = path.resolve(import.meta.dirname, '..', '..');

/**
 * End-to-end tests in Debian's Chromium against browser mode (out/ must be built first:
 * `npm test` builds it). Screenshots go to test/output/e2e/.
 */
export default defineConfig({
  testDir: import.meta.dirname,
  testMatch: '**/*.spec.ts',
  outputDir: path.join(root, 'test', 'output', 'e2e', 'results'),
  globalSetup: path.join(import.meta.dirname, 'global-setup.ts'),
  globalTeardown: path.join(import.meta.dirname, 'global-teardown.ts'),
  workers: 1,
  timeout: 60_000,
  expect: { timeout: 15_000 },
  reporter: [['list']],
  use: {
    browserName: 'chromium',
    viewport: { width: 1280, height: 800 },
    launchOptions: { executablePath: chromiumPath, args: chromiumFlags },
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
  },
});
