import { dataset } from '../helpers/library';
import { expect, test } from './fixtures';
import { LibraryPage } from './pages/library-page';
import { PretrainPage } from './pages/pretrain-page';

/**
 * The pretraining workspace end to end in Chromium (browser mode), as a person uses it: import
 * ../shared/datasets/tiny with its folder names as labels, fill in a cpu-small run of 2 short
 * epochs (the form refuses bad fields by name), start it, watch the loss chart gain points,
 * pause, inspect the montages (4 labelled patches each), resume, let it finish, find it in the
 * history after a reload, and compare it with a second run. Screenshots of each screen go to
 * test/output/e2e/.
 *
 * Each training step is slowed by 600 ms (JIGCLU_STEP_DELAY_MS) so a 24-image run lasts long
 * enough to be paused by a person, or by this test, before it ends.
 */

test.use({ serverEnv: { JIGCLU_STEP_DELAY_MS: '600' } });

test('launches, watches, pauses, inspects, resumes, finds and compares pretraining runs', async ({ app, page }) => {
  test.setTimeout(300_000);
  const library = new LibraryPage(app);
  const pretrain = new PretrainPage(app);

  await library.open();
  await library.addFolder(dataset('tiny'));
  await library.waitForImport('tiny');
  await library.folder('tiny').getByTestId('folder-use-labels').click();
  await expect.poll(async () => (await library.counts('tiny')).labelled).toBe(24);

  // The form: cpu-small, 2 short epochs of 3 steps (24 images, batch 8).
  await pretrain.openForm();
  await pretrain.choosePreset('cpu-small');
  await pretrain.setField('epochs', 2);
  await pretrain.setField('width', 0.125);
  // Bad fields are refused by name, as you type.
  await pretrain.setField('batch', 4000);
  await expect(pretrain.fieldError('batch')).toContainText(/batch of 4000 needs at least 4000 images/);
  await pretrain.setField('crop', 40);
  await expect(pretrain.fieldError('crop')).toContainText(/multiple of 32/);
  await expect(page.getByTestId('run-start')).toBeDisabled();
  await app.screenshot('pretrain-form-errors');
  await pretrain.setField('batch', 8);
  await pretrain.setField('crop', 32);
  await expect(pretrain.fieldError('batch')).toBeHidden();
  await expect(pretrain.fieldError('crop')).toBeHidden();
  const estimate = page.getByTestId('estimate');
  await expect(estimate.getByTestId('estimate-images')).toContainText('24');
  await expect(estimate.getByTestId('estimate-steps-per-epoch')).toContainText('3');
  await expect(estimate.getByTestId('estimate-total-steps')).toContainText('6');
  await estimate.getByTestId('estimate-measure').click();
  await expect(estimate.getByTestId('estimate-epoch-time')).toContainText(/\d/, { timeout: 60_000 });
  await app.screenshotSizes('pretrain-form');

  // Start, and see the loss chart gain points while it trains.
  const firstRun = await pretrain.start();
  await expect.poll(() => pretrain.chartPoints('chart-loss'), { timeout: 60_000 }).toBeGreaterThan(0);
  const before = await pretrain.chartPoints('chart-loss');
  await expect.poll(() => pretrain.chartPoints('chart-loss'), { timeout: 60_000 }).toBeGreaterThan(before);
  await page.getByTestId('run-pause').click();
  await pretrain.waitForStatus('paused');
  await expect(page.getByTestId('run-progress')).toContainText(/Step/i);
  await app.screenshot('pretrain-run-paused');

  // The montage inspector: 4 patches per montage, each labelled with its true and predicted location.
  const inspector = page.getByTestId('montage-inspector');
  await inspector.getByTestId('inspect-open').click();
  const montages = inspector.getByTestId('montage');
  await expect(montages.first()).toBeVisible({ timeout: 60_000 });
  const count = await montages.count();
  expect(count).toBeGreaterThan(0);
  for (let i = 0; i < count; i += 1) {
    const patches = montages.nth(i).getByTestId('patch');
    await expect(patches).toHaveCount(4);
    for (let j = 0; j < 4; j += 1) await expect(patches.nth(j)).toHaveText(/true (TL|TR|BL|BR) · pred (TL|TR|BL|BR)/);
  }
  await expect(inspector.getByTestId('inspect-location-accuracy')).toContainText('%');
  await expect(inspector.getByTestId('inspect-cluster-accuracy')).toContainText('%');
  await montages.first().getByTestId('patch').first().click();
  await expect(inspector.getByTestId('neighbour')).toHaveCount(3);
  await inspector.scrollIntoViewIfNeeded();
  await app.screenshotSizes('pretrain-montage-inspector');

  // Resume and let it finish.
  await page.getByTestId('run-resume').click();
  await pretrain.waitForStatus('finished');
  await expect(page.getByTestId('chart-accuracy')).toBeVisible();
  await expect(page.getByTestId('run-log')).toContainText(/kNN accuracy after epoch 2/);
  await app.screenshot('pretrain-run-finished');

  // After a reload it is in the history.
  await page.reload();
  await app.goTo('runs');
  const rows = page.getByTestId('run-row');
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toContainText('finished');
  await app.screenshot('pretrain-history');

  // A second run with another seed, then compare the two.
  const secondRun = await pretrain.trainShort({ epochs: 2, batch: 8, extra: { seed: 7 } }, 120_000);
  expect(secondRun).not.toBe(firstRun);
  await app.goTo('runs');
  await expect(rows).toHaveCount(2);
  for (let i = 0; i < 2; i += 1) await rows.nth(i).getByTestId('run-compare-check').check();
  await page.getByTestId('runs-compare').click();
  const compare = page.getByTestId('chart-compare');
  await expect(compare).toBeVisible();
  await expect(compare).toHaveAttribute('data-series', '2');
  await expect.poll(() => pretrain.chartPoints('chart-compare')).toBeGreaterThanOrEqual(12);
  await app.screenshotSizes('pretrain-compare');
});
