import { expect, type Locator, type Page } from '@playwright/test';
import type { AppPage } from './app-page';

/** Page object of the welcome (first-run) screen. */
export class WelcomePage {
  readonly page: Page;
  readonly view: Locator;
  readonly engine: Locator;
  readonly tryButton: Locator;
  readonly ownFolder: Locator;
  readonly progress: Locator;
  readonly results: Locator;
  readonly clustersCard: Locator;
  readonly finetuneCard: Locator;

  constructor(readonly app: AppPage) {
    this.page = app.page;
    this.view = this.page.getByTestId('view-welcome');
    this.engine = this.page.getByTestId('welcome-engine');
    this.tryButton = this.page.getByTestId('welcome-try');
    this.ownFolder = this.page.getByTestId('welcome-own');
    this.progress = this.page.getByTestId('welcome-progress');
    this.results = this.page.getByTestId('welcome-results');
    this.clustersCard = this.page.getByTestId('welcome-clusters');
    this.finetuneCard = this.page.getByTestId('welcome-finetune');
  }

  /** Waits for the welcome screen (a fresh data folder opens on it). */
  async expectShown(): Promise<void> {
    await expect(this.view).toBeVisible();
    await expect(this.page).toHaveURL(/#\/welcome$/);
  }

  /** The engine name the welcome screen shows, once probing is done. */
  async engineName(): Promise<string> {
    const name = this.engine.getByTestId('engine-guidance-name');
    await expect(name).toBeVisible({ timeout: 60_000 });
    return (await name.textContent())?.trim() ?? '';
  }

  /** Clicks "Try with sample images" and waits until the first run has finished. */
  async trySampleImages(timeout = 420_000): Promise<void> {
    await this.tryButton.click();
    await expect(this.progress).toBeVisible();
    await expect(this.progress).toHaveAttribute('data-status', /running|finished/);
    await expect(this.progress).toHaveAttribute('data-status', 'finished', { timeout });
    await expect(this.results).toBeVisible();
  }

  /** A number the result cards show, from its data-value. */
  async value(testId: 'welcome-nmi' | 'welcome-probe-accuracy' | 'welcome-finetune-accuracy'): Promise<number> {
    const raw = await this.page.getByTestId(testId).getAttribute('data-value');
    return Number(raw);
  }
}
