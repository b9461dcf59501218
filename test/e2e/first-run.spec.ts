import { expect, test } from './fixtures';
import { ClustersPage } from './pages/clusters-page';
import { FinetunePage } from './pages/finetune-page';
import { PretrainPage } from './pages/pretrain-page';
import { WelcomePage } from './pages/welcome-page';

// The whole first run trains for real on the CPU (wasm here): a couple of minutes.
test.setTimeout(600_000);

test('a fresh install opens on the welcome screen and the sample run ends with clusters and a classifier', async ({ app, page }) => {
  const welcome = new WelcomePage(app);
  await welcome.expectShown();

  // The engine in use, and why the GPU is not used with what to install.
  const engine = await welcome.engineName();
  expect(['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu']).toContain(engine);
  if (engine !== 'tfjs-node-gpu') {
    await expect(welcome.engine.getByTestId('engine-guidance-reason')).toContainText(/GPU not used: .*(tfjs-node-gpu|CUDA|cuDNN|driver|Linux x64)/);
    await expect(welcome.engine.getByTestId('engine-guidance-install')).toContainText(/CUDA 11\.2|tfjs-node/);
  }
  await app.screenshotSizes('first-run-welcome');

  const started = Date.now();
  await welcome.trySampleImages();
  const seconds = (Date.now() - started) / 1000;
  console.log(`first run took ${seconds.toFixed(0)} s on ${engine}`);
  await expect(welcome.progress.locator('li[data-state="done"]')).toHaveCount(7);
  await expect(welcome.clustersCard).toContainText('4 clusters');
  const nmi = await welcome.value('welcome-nmi');
  expect(nmi).toBeGreaterThanOrEqual(0);
  expect(nmi).toBeLessThanOrEqual(1);
  for (const id of ['welcome-probe-accuracy', 'welcome-finetune-accuracy'] as const) {
    const accuracy = await welcome.value(id);
    expect(accuracy).toBeGreaterThanOrEqual(0);
    expect(accuracy).toBeLessThanOrEqual(1);
  }
  await expect(welcome.finetuneCard).toContainText('16 hand labels');
  console.log(`NMI ${nmi}, linear probe ${await welcome.value('welcome-probe-accuracy')}, fine-tune ${await welcome.value('welcome-finetune-accuracy')}; ${await page.getByTestId('welcome-results').locator('p').first().textContent()}`);
  await app.screenshotSizes('first-run-done');

  await welcome.clustersCard.click();
  const clusters = new ClustersPage(app);
  await expect(clusters.view).toBeVisible();
  await expect(clusters.cards).toHaveCount(4, { timeout: 30_000 });
  // One way of scoring: the Clusters screen shows the welcome screen's NMI, over the same 96 images.
  await expect(page.getByTestId('score-basis')).toHaveAttribute('data-labelled', '96');
  await expect(page.getByTestId('welcome-nmi')).toHaveCount(0);
  expect(Number(await clusters.scores.getByTestId('score-nmi').textContent())).toBeCloseTo(nmi, 2);
  await app.screenshot('first-run-clusters');

  await page.goBack();
  await welcome.expectShown();
  await expect(welcome.results).toBeVisible();
  await welcome.finetuneCard.click();
  const finetune = new FinetunePage(app);
  await expect(finetune.view).toBeVisible();
  await expect(finetune.cards).toHaveCount(2, { timeout: 30_000 });
  await app.screenshot('first-run-finetune');

  // A run of your own replaces the sample run as the backbone in use once it finishes, and says so.
  const pretrain = new PretrainPage(app);
  const own = await pretrain.trainShort({ epochs: 1, batch: 32 }, 180_000);
  const use = page.getByTestId('use-backbone');
  await expect(use).toHaveAttribute('data-state', 'in-use');
  await expect(page.getByTestId('run-log')).toContainText(/is now the backbone in use for clusters and fine-tuning instead of .*, the sample run/);
  // The sample run's page offers it back, prominently, in one click.
  await app.goTo('runs');
  await page.locator(`[data-testid="run-row"]:not([data-run-id="${own}"])`).first().click();
  await expect(use).toHaveAttribute('data-state', 'offered');
  await expect(use).toContainText(/In use now: Run \d+/);
  await app.screenshotSizes('first-run-offer-backbone');
  await use.getByTestId('use-backbone-button').click();
  await expect(use).toHaveAttribute('data-state', 'in-use');

  // The library now has the sample folder: the start page is the library again.
  await page.goto(page.url().replace(/#.*$/, ''));
  await expect(page.getByTestId('view-library')).toBeVisible();
});

test('the first run can be cancelled', async ({ app }) => {
  const welcome = new WelcomePage(app);
  await welcome.expectShown();
  await welcome.tryButton.click();
  await expect(welcome.progress).toHaveAttribute('data-status', 'running');
  await expect(welcome.progress.locator('li[data-step="pretrain"]')).toHaveAttribute('data-state', 'current', { timeout: 60_000 });
  await app.page.getByTestId('welcome-cancel').click();
  await expect(welcome.progress).toHaveAttribute('data-status', 'cancelled', { timeout: 60_000 });
  await expect(app.page.getByTestId('welcome-cancelled')).toBeVisible();
  await expect(welcome.tryButton).toBeEnabled();
});

test('"Force CPU" in Settings sets a CPU engine, and the status bar and welcome screen say so', async ({ app, page }) => {
  const welcome = new WelcomePage(app);
  await welcome.expectShown();
  await app.goTo('settings');
  const force = page.getByTestId('setting-force-cpu');
  await expect(force).not.toBeChecked();
  await force.check();
  await expect(page.getByTestId('settings-message')).toHaveText('Saved.');
  await expect(page.getByTestId('setting-engine')).not.toHaveValue('auto');
  await expect(page.getByTestId('status-engine-forced')).toContainText('forced in Settings');
  await page.getByTestId('settings-welcome').click();
  await welcome.expectShown();
  await expect(welcome.engine.getByTestId('engine-guidance-forced')).toBeVisible();
  await expect(welcome.engine.getByTestId('engine-guidance-reason')).toContainText('force a CPU engine');
  await app.goTo('settings');
  await force.uncheck();
  await expect(page.getByTestId('setting-engine')).toHaveValue('auto');
});
