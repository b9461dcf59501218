import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test as base } from '@playwright/test';
import { AppPage } from './pages/app-page';

export const repoRoot = path.resolve(import.meta.dirname, '..', '..');
export const screenshotDir = path.join(repoRoot, 'test', 'output', 'e2e');

/** A running browser-mode server, started the way a user starts it (`npm run serve`). */
export interface BrowserMode {
  url: string;
  dataDir: string;
  output: () => string;
}

/** Starts `node out/main/serve.js` on a free port with a fresh data folder (or `dataDir`). */
export async function startBrowserMode(env: Record<string, string> = {}, dataDir: string = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-e2e-'))): Promise<{ server: BrowserMode; child: ChildProcess }> {
  const child = spawn(process.execPath, [path.join(repoRoot, 'out', 'main', 'serve.js'), '--data-dir', dataDir, '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`browser mode did not start in 20 s:\n${output}`)), 20_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = /running at (http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`browser mode exited with code ${code}:\n${output}`)));
  });
  return { server: { url, dataDir, output: () => output }, child };
}

export const test = base.extend<{ serverEnv: Record<string, string>; server: BrowserMode; app: AppPage }>({
  /** Extra environment of the browser-mode server (a spec sets it with test.use). */
  serverEnv: [{}, { option: true }],
  server: async ({ serverEnv }, use) => {
    const { server, child } = await startBrowserMode(serverEnv);
    await use(server);
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    fs.rmSync(server.dataDir, { recursive: true, force: true });
  },
  app: async ({ page, server }, use) => {
    const app = new AppPage(page, screenshotDir);
    await app.open(server.url);
    await use(app);
  },
});

export { expect } from '@playwright/test';
