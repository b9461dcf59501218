import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { chromiumPath } from './chromium';

const root = path.resolve(import.meta.dirname, '..', '..');

/**
 * Makes sure the e2e tests have what they need: the built app and Debian's Chromium. Running
 * as root without Chromium, it installs it with apt-get; otherwise it stops naming the one
 * command to run.
 */
export default function globalSetup(): void {
  // The README picture is made only from screenshots of this run (global-teardown.ts).
  process.env.JIGCLU_E2E_STARTED = String(Date.now());
  if (!fs.existsSync(path.join(root, 'out', 'main', 'serve.js')) || !fs.existsSync(path.join(root, 'out', 'renderer', 'index.html'))) {
    throw new Error('The app is not built: run `npm run build` first (`npm test` does it for you).');
  }
  if (fs.existsSync(chromiumPath)) return;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || process.env.JIGCLU_CHROMIUM) {
    throw new Error(
      `The end-to-end tests need Chromium at ${chromiumPath}. Install it with: sudo apt-get install -y chromium`,
    );
  }
  console.log(`Chromium is missing at ${chromiumPath}; installing Debian's chromium package (running as root)...`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update', '-qq'], ['install', '-y', '-qq', 'chromium']]) {
    const result = spawnSync('apt-get', args, { stdio: 'inherit', env });
    if (result.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed; install Chromium with: apt-get install -y chromium`);
  }
  if (!fs.existsSync(chromiumPath)) throw new Error(`apt-get installed chromium but ${chromiumPath} is still missing.`);
}
