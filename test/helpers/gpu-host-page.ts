import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { webGpuSwitches } from '../../main/gpu-host/chromium-switches';
import { gpuHostPortMessage, type GpuPort } from '../../main/gpu-host/protocol';
import { contentSecurityPolicy } from '../../main/server/security';
import { repoRoot } from './library';

/** Debian's Chromium, as the e2e tests use it. */
const chromiumPath = process.env.JIGCLU_CHROMIUM ?? '/usr/bin/chromium';
/** The built compute page (`npm run build`; `npm test` builds first). */
export const gpuHostDir = path.join(repoRoot, 'out', 'gpu-host');
/** A secure origin for the page (localhost is one); every request to it is answered from gpuHostDir. */
const origin = 'http://localhost';

/** Why the compute page cannot be driven here (undefined when it can), printed with the skip. */
export function gpuHostPageUnavailable(): string | undefined {
  return fs.existsSync(chromiumPath) ? undefined : `no Chromium at ${chromiumPath}: install it with \`sudo apt-get install -y chromium\`.`;
}

const types: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8' };

/**
 * Opens the built compute page in headless Chromium with the switches the desktop app sets, and
 * hands it a message port exactly as the app's preload does (window.postMessage with the port
 * transferred). Returns this side of the port: messages cross to Node through Playwright
 * (structured data and typed arrays, serialised byte for byte), one at a time in order.
 */
export async function openGpuHostPage(): Promise<{ port: GpuPort; page: Page; browser: Browser; close(): Promise<void> }> {
  if (!fs.existsSync(path.join(gpuHostDir, 'index.html'))) throw new Error(`${gpuHostDir} is missing: run \`npm run build\` first (npm test builds before the unit tests).`);
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [...webGpuSwitches(process.platform, process.arch).map((name) => `--${name}`), '--no-first-run', '--disable-background-networking', '--disable-component-update'],
  });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    // Served as the app serves it (electron/protocol.ts): the files of out/gpu-host with the app's CSP.
    await page.route(`${origin}/**`, async (route) => {
      const relative = decodeURIComponent(new URL(route.request().url()).pathname).replace(/^\/+/, '') || 'index.html';
      const file = path.resolve(gpuHostDir, relative);
      if (!file.startsWith(gpuHostDir + path.sep) || !fs.existsSync(file)) return route.fulfill({ status: 404, body: 'Not found' });
      await route.fulfill({ status: 200, body: fs.readFileSync(file), headers: { 'content-type': types[path.extname(file)] ?? 'application/octet-stream', 'content-security-policy': contentSecurityPolicy } });
    });
    const listeners: ((message: unknown) => void)[] = [];
    await page.exposeBinding('__jigcluFromHost', (_source, message: unknown) => {
      for (const listener of listeners) listener(message);
    });
    await page.goto(`${origin}/index.html`);
    await page.waitForLoadState('load');
    if (errors.length > 0) throw new Error(`the compute page failed to load: ${errors.join('; ')}`);
    await page.evaluate((message) => {
      const channel = new MessageChannel();
      const bridge = window as unknown as { __jigcluToHost(m: unknown): void; __jigcluFromHost(m: unknown): void };
      bridge.__jigcluToHost = (m) => channel.port1.postMessage(m);
      channel.port1.onmessage = (event) => bridge.__jigcluFromHost(event.data);
      window.postMessage(message, window.location.origin, [channel.port2]);
    }, gpuHostPortMessage);
    let sending: Promise<unknown> = Promise.resolve();
    let closed = false;
    const port: GpuPort = {
      postMessage: (message) => {
        sending = sending.then(() => (closed ? undefined : page.evaluate((m) => (window as unknown as { __jigcluToHost(m: unknown): void }).__jigcluToHost(m), message))).catch(() => undefined);
      },
      onMessage: (listener) => listeners.push(listener),
      close: () => {
        closed = true;
      },
    };
    return {
      port,
      page,
      browser,
      close: async () => {
        closed = true;
        await browser.close();
      },
    };
  } catch (error) {
    await browser.close();
    throw error;
  }
}
