import fs from 'node:fs';
import { expect, test } from './fixtures';
import { reviewSizes, views } from './pages/app-page';

const engineNames = ['tfjs-node-gpu', 'webgpu', 'tfjs-node', 'wasm', 'cpu'];

test('navigates every view and shows the engine in the status bar and the About panel', async ({ app, page }) => {
  await page.emulateMedia({ colorScheme: 'dark' });
  for (const view of views) {
    const shown = await app.goTo(view);
    await expect(shown.locator('h1')).not.toBeEmpty();
    expect(page.url()).toContain(`#/${view}`);
    // Every screen fits the review sizes without scrolling sideways, even empty.
    for (const size of reviewSizes) {
      await page.setViewportSize(size);
      expect(await app.scrollProblems(), `${view} at ${size.width}x${size.height}`).toEqual([]);
    }
  }
  await app.goTo('settings');

  const engine = await app.engineInStatusBar();
  expect(engineNames).toContain(engine);
  await expect(app.statusConnection).toContainText('Connected');

  await app.openAbout();
  await expect(app.about.getByTestId('about-engine')).toContainText(engine);
  const rows = app.about.getByTestId('about-engines').locator('tr');
  await expect(rows).toHaveCount(engineNames.length);
  // Every engine better than the chosen one says why it is not used.
  for (const name of engineNames.slice(0, engineNames.indexOf(engine))) {
    const row = app.about.locator(`tr[data-engine="${name}"]`);
    if (name === 'webgpu') {
      // No GPU here: no adapter, or a software one (SwiftShader), used only when asked for.
      await expect(row).toContainText(/No WebGPU adapter|only when asked for|failed|not installed|not available/i);
      continue;
    }
    await expect(row).toContainText('✕');
    await expect(row).toContainText(/not installed|failed|not loaded/i);
  }
  await expect(app.about.getByTestId('about-version')).toHaveText(/^\d+\.\d+\.\d+/);
  const shot = await app.screenshot('about-panel');
  expect(fs.statSync(shot).size).toBeGreaterThan(10_000);
  await app.closeAboutWithEscape();

  await app.goTo('library');
  await app.screenshot('library');

  // Browser mode has the app's icon in the tab.
  const icon = await page.locator('link[rel="icon"]').evaluate((link: HTMLLinkElement) => link.href);
  const response = await page.request.get(icon);
  expect(response.status()).toBe(200);
  expect(response.headers()['content-type']).toBe('image/png');
});

test('changing a setting persists across a reload', async ({ app, page }) => {
  await app.goTo('settings');
  await page.getByTestId('setting-theme').selectOption('light');
  await expect(page.getByTestId('settings-message')).toHaveText('Saved.');
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'light');
  await page.reload();
  await app.goTo('settings');
  await expect(page.getByTestId('setting-theme')).toHaveValue('light');
  await app.screenshotSizes('settings-light');
});

test('the CPU threads setting reaches the engine: the count in use follows it and survives a reload', async ({ app, page }) => {
  await app.goTo('settings');
  const threads = page.getByTestId('setting-threads');
  await expect(threads).toHaveValue('auto');
  const inUse = page.getByTestId('settings-threads-in-use');
  // The engine here is wasm (tfjs-node is not installed on the test machines): it reports its threads.
  await expect(inUse).toHaveText(/In use: \d+ threads? \(wasm\)/);
  await threads.selectOption('1');
  await expect(page.getByTestId('settings-message')).toHaveText('Saved.');
  await expect(inUse).toHaveText('In use: 1 thread (wasm)');
  await expect(page.getByTestId('status-engine-threads')).toHaveText('· 1 thread');
  await app.screenshot('settings-threads');
  await page.reload();
  await app.goTo('settings');
  await expect(threads).toHaveValue('1');
  await app.openAbout();
  await expect(app.about.getByTestId('about-engine')).toContainText('1 thread');
  await app.closeAboutWithEscape();
  await threads.selectOption('auto');
  await expect(inUse).toHaveText(/In use: \d+ threads? \(wasm\)/);
});

test('the page without the token is refused', async ({ page, server }) => {
  const bare = server.url.replace(/\?token=.*/, '');
  const response = await page.goto(bare);
  expect(response?.status()).toBe(401);
});
