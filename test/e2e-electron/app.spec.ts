import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { _electron as electron, test as base, expect, type ElectronApplication, type Page } from '@playwright/test';
import { AppPage, views } from '../e2e/pages/app-page';
import { LibraryPage } from '../e2e/pages/library-page';

/**
 * The desktop app end to end, driven by Playwright's Electron support, with the page objects of
 * the browser-mode tests. Each test starts the app the way `npm start` does (Electron with the
 * repository as the app, so package.json's "main" runs out/main/main.js) on a fresh data folder.
 * Run through `npm run test:electron` (run.mjs), which needs Electron's binary.
 */

const repoRoot = path.resolve(import.meta.dirname, '..', '..');
const screenshotDir = path.join(repoRoot, 'test', 'output', 'e2e-electron');
const engineNames = ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'];

interface Desktop {
  electronApp: ElectronApplication;
  mainWindow: Page;
  app: AppPage;
  dataDir: string;
}

const test = base.extend<Desktop>({
  // eslint-disable-next-line no-empty-pattern -- Playwright reads the fixtures a fixture needs from this pattern.
  dataDir: async ({}, use) => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-electron-e2e-'));
    await use(dataDir);
    fs.rmSync(dataDir, { recursive: true, force: true });
  },
  electronApp: async ({ dataDir }, use) => {
    const args = [repoRoot, '--data-dir', dataDir];
    // Chromium refuses to run as root with its sandbox (CI containers); the window's own
    // `sandbox: true` (the renderer's) is checked below either way.
    if (process.platform === 'linux' && process.getuid?.() === 0) args.push('--no-sandbox');
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env)) if (value !== undefined && key !== 'ELECTRON_RUN_AS_NODE') env[key] = value;
    const electronApp = await electron.launch({ executablePath: process.env.JIGCLU_ELECTRON_BINARY, args, cwd: repoRoot, env });
    let output = '';
    electronApp.process().stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    electronApp.process().stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await use(electronApp);
    await electronApp.close();
    if (test.info().status !== test.info().expectedStatus) await test.info().attach('main process output', { body: output });
  },
  mainWindow: async ({ electronApp }, use) => {
    const mainWindow = await electronApp.firstWindow();
    await expect(mainWindow.getByRole('navigation', { name: 'Main' })).toBeVisible({ timeout: 30_000 });
    await use(mainWindow);
  },
  app: async ({ mainWindow }, use) => {
    await use(new AppPage(mainWindow, screenshotDir));
  },
});

// run.mjs sets this where Electron's binary is missing: every spec is then reported as skipped, with the reason.
test.skip(Boolean(process.env.JIGCLU_ELECTRON_SKIP), `Electron e2e not run: ${process.env.JIGCLU_ELECTRON_SKIP ?? ''}`);

test('shows every view, the engine and the desktop mode', async ({ app, mainWindow }) => {
  expect(mainWindow.url()).toMatch(/^app:\/\/renderer\//);
  for (const view of views) {
    const shown = await app.goTo(view);
    await expect(shown.locator('h1')).not.toBeEmpty();
  }
  const engine = await app.engineInStatusBar();
  expect(engineNames).toContain(engine);
  await expect(mainWindow.getByText(/^Desktop · v\d+\.\d+\.\d+/)).toBeVisible();
  await app.openAbout();
  await expect(app.about).toContainText('desktop app');
  await expect(app.about.getByTestId('about-engine')).toContainText(engine);
  await app.screenshot('electron-about');
  await app.closeAboutWithEscape();
});

test('adds a folder through the native folder dialog and shows its images', async ({ app, mainWindow, electronApp }) => {
  // A copy of the bundled sample set: four class folders of 24 images.
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'jigclu-electron-sample-'));
  const folder = path.join(parent, 'sample');
  fs.cpSync(path.join(repoRoot, 'resources', 'sample'), folder, { recursive: true, filter: (source) => !source.endsWith('.md') });
  const imageCount = fs.readdirSync(folder).reduce((count, name) => count + fs.readdirSync(path.join(folder, name)).length, 0);
  try {
    // The dialog is native; answer it from the main process as the user would pick the folder.
    await electronApp.evaluate(({ dialog }, picked) => {
      Object.assign(dialog, { showOpenDialog: async () => ({ canceled: false, filePaths: [picked] }) });
    }, folder);
    const library = new LibraryPage(app);
    await library.open();
    await expect(mainWindow.getByTestId('add-folder-path')).toHaveCount(0);
    await mainWindow.getByTestId('add-folder-pick').click();
    await expect(mainWindow.getByTestId('add-folder-message')).toHaveText(/Added/);
    await library.waitForImport('sample');
    expect(await library.counts('sample')).toEqual({ images: imageCount, rejected: 0, labelled: 0 });
    await expect.poll(() => library.galleryCount()).toBe(imageCount);
    // Thumbnails and images come through the jigclu-media:// protocol.
    await library.expectThumbnailLoaded(0);
    await library.openImage(0);
    await library.closeViewer();
    await app.screenshot('electron-library');
  } finally {
    fs.rmSync(parent, { recursive: true, force: true });
  }
});

test('the window runs isolated and sandboxed, with only the API calls exposed', async ({ mainWindow, electronApp }) => {
  // The flags as Electron reports them: getLastWebPreferences() where this Electron still has it
  // (it left the typings), and the renderer's `sandboxed` metric (macOS and Windows report it).
  const reported = await electronApp.evaluate(({ app, BrowserWindow }) => {
    const contents = BrowserWindow.getAllWindows()[0]?.webContents;
    if (!contents) return { windows: 0 };
    const last = (contents as unknown as { getLastWebPreferences?: () => Record<string, unknown> | null }).getLastWebPreferences?.() ?? null;
    const metric = app.getAppMetrics().find((entry) => entry.pid === contents.getOSProcessId());
    return {
      windows: BrowserWindow.getAllWindows().length,
      preferences: last && {
        contextIsolation: last.contextIsolation,
        sandbox: last.sandbox,
        nodeIntegration: last.nodeIntegration,
        nodeIntegrationInSubFrames: last.nodeIntegrationInSubFrames ?? false,
        webviewTag: last.webviewTag ?? false,
      },
      sandboxed: metric?.sandboxed,
    };
  });
  expect(reported.windows).toBe(1);
  if (reported.preferences) {
    expect(reported.preferences).toEqual({ contextIsolation: true, sandbox: true, nodeIntegration: false, nodeIntegrationInSubFrames: false, webviewTag: false });
  } else {
    test.info().annotations.push({ type: 'note', description: 'this Electron does not report webPreferences; checked by behaviour only' });
  }
  if (reported.sandboxed !== undefined) expect(reported.sandboxed).toBe(true);

  // By behaviour: no Node in the page (nodeIntegration off), and the API exists only through
  // contextBridge, which refuses to work without contextIsolation.
  const page = await mainWindow.evaluate(() => {
    const scope = globalThis as unknown as Record<string, unknown>;
    const api = scope.jigclu as Record<string, unknown>;
    return {
      require: typeof scope.require,
      process: typeof scope.process,
      module: typeof scope.module,
      buffer: typeof scope.Buffer,
      methods: Object.keys(api),
      functionsOnly: Object.values(api).every((value) => typeof value === 'function'),
      frozen: Object.isFrozen(api),
    };
  });
  expect(page.require).toBe('undefined');
  expect(page.process).toBe('undefined');
  expect(page.module).toBe('undefined');
  expect(page.buffer).toBe('undefined');
  expect(page.methods).toContain('appInfo');
  for (const generic of ['send', 'invoke', 'on', 'ipcRenderer']) expect(page.methods).not.toContain(generic);
  expect(page.functionsOnly).toBe(true);
  expect(page.frozen).toBe(true);
  // Our own window's main frame is answered.
  expect(await mainWindow.evaluate(() => (globalThis as unknown as { jigclu: { appInfo(args: object): Promise<{ ok: boolean }> } }).jigclu.appInfo({}))).toMatchObject({ ok: true });
});

test('refuses IPC calls from any frame but our window, and gives subframes no API', async ({ mainWindow, electronApp }) => {
  // A subframe of our window has no preload, hence no API.
  const subframeHasApi = await mainWindow.evaluate(async () => {
    const frame = document.createElement('iframe');
    document.body.append(frame);
    await new Promise((resolve) => setTimeout(resolve, 200));
    try {
      return frame.contentWindow !== null && 'jigclu' in frame.contentWindow;
    } catch {
      return false; // a cross-origin frame: no access at all
    } finally {
      frame.remove();
    }
  });
  expect(subframeHasApi).toBe(false);

  // Other windows given our very preload (so they do have `window.jigclu`): one at a foreign
  // origin, one showing our own renderer. The router answers both with FORBIDDEN.
  const preload = path.join(repoRoot, 'out', 'preload', 'preload.cjs');
  const answers = await electronApp.evaluate(
    async ({ BrowserWindow }, { preload, urls }) => {
      const results: unknown[] = [];
      for (const url of urls) {
        const foreign = new BrowserWindow({ show: false, webPreferences: { preload, contextIsolation: true, sandbox: true, nodeIntegration: false } });
        try {
          await foreign.loadURL(url);
          results.push(await foreign.webContents.executeJavaScript('window.jigclu ? window.jigclu.appInfo({}) : "no api"'));
        } finally {
          foreign.destroy();
        }
      }
      return results;
    },
    { preload, urls: ['data:text/html,<title>foreign</title><p>foreign page</p>', 'app://renderer/index.html'] },
  );
  expect(answers).toEqual([
    { ok: false, error: expect.objectContaining({ code: 'FORBIDDEN' }) },
    { ok: false, error: expect.objectContaining({ code: 'FORBIDDEN' }) },
  ]);
  // Our window is still answered.
  expect(await mainWindow.evaluate(() => (globalThis as unknown as { jigclu: { appInfo(args: object): Promise<{ ok: boolean }> } }).jigclu.appInfo({}))).toMatchObject({ ok: true });
});

test('blocks navigation away and new windows', async ({ mainWindow, electronApp }) => {
  const before = mainWindow.url();
  await mainWindow.evaluate(() => {
    globalThis.location.href = 'https://example.com/';
  });
  // `will-navigate` is prevented: the page stays ours and alive.
  await mainWindow.waitForTimeout(1_000);
  expect(mainWindow.url()).toBe(before);
  await expect(mainWindow.getByRole('navigation', { name: 'Main' })).toBeVisible();

  expect(await mainWindow.evaluate(() => globalThis.open('about:blank') === null)).toBe(true);
  expect(await electronApp.evaluate(({ BrowserWindow }) => BrowserWindow.getAllWindows().length)).toBe(1);
});
