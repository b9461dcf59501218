import { expect, type Locator, type Page } from '@playwright/test';
import type { AppPage } from './app-page';

/**
 * Page object of the Fine-tune screen: setup and the one-click start, the classifier cards and
 * the chosen one's confusion matrix, the review queue, and the exports.
 */
export class FinetunePage {
  readonly page: Page;
  readonly view: Locator;
  readonly cards: Locator;
  readonly matrix: Locator;
  readonly review: Locator;
  readonly reviewCounter: Locator;

  constructor(readonly app: AppPage) {
    this.page = app.page;
    this.view = this.page.getByTestId('view-finetune');
    this.cards = this.page.getByTestId('classifier-card');
    this.matrix = this.page.getByTestId('confusion-matrix');
    this.review = this.page.getByTestId('review-current');
    this.reviewCounter = this.page.getByTestId('review-counter');
  }

  async open(): Promise<void> {
    await this.app.goTo('finetune');
    await expect(this.view.locator('h1')).toHaveText('Fine-tune');
  }

  async tab(name: 'results' | 'predictions' | 'review' | 'export'): Promise<void> {
    await this.page.getByTestId(`ft-tab-${name}`).click();
  }

  /** Sets the epochs per classifier under Advanced. */
  async setEpochs(epochs: number): Promise<void> {
    const advanced = this.page.getByTestId('ft-advanced');
    if ((await advanced.getAttribute('open')) === null) await advanced.locator('summary').click();
    await this.page.getByTestId('ft-epochs').fill(String(epochs));
  }

  /** Clicks Fine-tune and waits for the task to finish. */
  async start(timeout = 300_000): Promise<void> {
    await this.page.getByTestId('finetune-start').click();
    // The setup panel's own progress (the status bar shows the same task too).
    const task = this.page.getByTestId('finetune-setup').getByTestId('task-finetune');
    await expect(task).toBeVisible();
    await expect(task).toHaveAttribute('data-status', 'finished', { timeout });
  }

  /** The review item shown now. */
  async reviewItem(): Promise<{ imageId: number; predicted: string }> {
    await expect(this.review).toHaveAttribute('data-image-id', /\d+/);
    return { imageId: Number(await this.review.getAttribute('data-image-id')), predicted: (await this.review.getAttribute('data-predicted')) ?? '' };
  }
}
