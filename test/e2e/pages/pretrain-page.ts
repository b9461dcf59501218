import { expect, type Locator, type Page } from '@playwright/test';
import type { AppPage } from './app-page';

/**
 * Page object of the pretraining workspace: the new-run form with its estimate, the live run
 * view (progress, charts, controls, log, montage inspector) and the run history with compare.
 */
export class PretrainPage {
  readonly page: Page;

  constructor(readonly app: AppPage) {
    this.page = app.page;
  }

  async openForm(): Promise<Locator> {
    const view = await this.app.goTo('pretrain');
    await expect(this.page.getByTestId('run-form')).toBeVisible();
    return view;
  }

  field(name: string): Locator {
    return this.page.getByTestId(`field-${name}`);
  }

  fieldError(name: string): Locator {
    return this.page.getByTestId(`field-error-${name}`);
  }

  /** Types a value into a field of the form (replacing what is there), opening Advanced when it is there. */
  async setField(name: string, value: string | number): Promise<void> {
    const input = this.field(name);
    const advanced = this.page.getByTestId('run-advanced');
    if (!(await input.isVisible()) && (await advanced.getAttribute('open')) === null) await advanced.locator('summary').click();
    const tag = await input.evaluate((element) => element.tagName.toLowerCase());
    if (tag === 'select') await input.selectOption(String(value));
    else await input.fill(String(value));
  }

  async choosePreset(preset: string): Promise<void> {
    await this.page.getByTestId('field-preset').selectOption(preset);
  }

  /** Starts the run and waits for its live view; returns its id. */
  async start(): Promise<number> {
    await expect(this.page.getByTestId('run-start')).toBeEnabled();
    await this.page.getByTestId('run-start').click();
    await expect(this.page.getByTestId('view-run')).toBeVisible();
    await expect.poll(() => this.page.url()).toMatch(/#\/runs\/\d+/);
    return Number(/#\/runs\/(\d+)/.exec(this.page.url())![1]);
  }

  /**
   * A short cpu-small run (width 0.125, the given epochs and batch, other fields as `extra`)
   * from a fresh form, started and watched until it finishes; returns its id.
   */
  async trainShort(settings: { epochs: number; batch: number; extra?: Record<string, number> }, timeout = 240_000): Promise<number> {
    await this.openForm();
    await this.choosePreset('cpu-small');
    await this.setField('epochs', settings.epochs);
    await this.setField('width', 0.125);
    await this.setField('batch', settings.batch);
    for (const [name, value] of Object.entries(settings.extra ?? {})) await this.setField(name, value);
    const runId = await this.start();
    await this.waitForStatus('finished', timeout);
    return runId;
  }

  status(): Locator {
    return this.page.getByTestId('run-status');
  }

  async waitForStatus(status: string, timeout = 120_000): Promise<void> {
    await expect(this.status()).toHaveAttribute('data-status', status, { timeout });
  }

  /** Points drawn by a chart (the sum over its series). */
  async chartPoints(testid: string): Promise<number> {
    return Number(await this.page.getByTestId(testid).getAttribute('data-points'));
  }
}
