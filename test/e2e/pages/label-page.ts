import { expect, type Locator, type Page } from '@playwright/test';
import type { AppPage } from './app-page';

/** What a bulk-label confirmation says the label would do. */
export interface GroupLabelCounts {
  images: number;
  unlabelled: number;
  same: number;
  other: number;
}

/**
 * Page object of the Label screen: the classes panel (create, counts), the current image with
 * its label, the grid of images to label, the undo/redo status, and the By-cluster tab.
 */
export class LabelPage {
  readonly page: Page;
  readonly view: Locator;
  readonly current: Locator;
  readonly notice: Locator;
  readonly confirm: Locator;

  constructor(readonly app: AppPage) {
    this.page = app.page;
    this.view = this.page.getByTestId('view-label');
    this.current = this.page.getByTestId('label-current');
    this.notice = this.page.getByTestId('label-notice');
    this.confirm = this.page.getByTestId('label-confirm');
  }

  async open(): Promise<void> {
    await this.app.goTo('label');
    await expect(this.view.locator('h1')).toHaveText('Label');
  }

  /** Creates a class with the form and waits for its row. */
  async createClass(name: string): Promise<void> {
    await this.page.getByTestId('class-create-name').fill(name);
    await this.page.getByTestId('class-create').click();
    await expect(this.classRow(name)).toBeVisible();
  }

  classRow(name: string): Locator {
    return this.page.locator(`[data-testid="class-row"][data-class-name="${name}"]`);
  }

  /** The number key of a class (1-9), from its row. */
  async keyOf(name: string): Promise<string> {
    const key = await this.classRow(name).getAttribute('data-key');
    if (!key) throw new Error(`class ${name} has no number key`);
    return key;
  }

  /** Hand labels of a class as its row counts them. */
  async handCount(name: string): Promise<number> {
    return Number(await this.classRow(name).getByTestId('class-counts').getAttribute('data-hand'));
  }

  /**
   * Asks to label a row of the By-cluster tab (or any "Label these N as" control, by its test
   * id) with a class, and reads the confirmation's counts; the dialog stays open.
   */
  async askGroupLabel(control: Locator, className: string, testid = 'label-cluster'): Promise<GroupLabelCounts> {
    await control.getByTestId(`${testid}-class`).selectOption({ label: className });
    await control.getByTestId(`${testid}-apply`).click();
    const counts = this.confirm.getByTestId('label-confirm-counts');
    await expect(counts).toBeVisible();
    const read = async (name: string) => Number(await counts.getAttribute(`data-${name}`));
    return { images: await read('images'), unlabelled: await read('unlabelled'), same: await read('same'), other: await read('other') };
  }

  /** Answers the open confirmation: label (keeping hand labels or not) or cancel. */
  async answerGroupLabel(answer: 'keep' | 'replace' | 'cancel'): Promise<void> {
    if (answer === 'cancel') await this.confirm.getByTestId('confirm-cancel').click();
    else {
      const keep = this.confirm.getByTestId('label-confirm-keep');
      if ((await keep.count()) > 0) await keep.setChecked(answer === 'keep');
      await this.confirm.getByTestId('confirm-ok').click();
    }
    await expect(this.confirm).toBeHidden();
  }

  /** The current image's id and the path shown for it (folder/name inside its library folder). */
  async currentImage(): Promise<{ id: number; path: string; label: string }> {
    await expect(this.current).toHaveAttribute('data-image-id', /\d+/);
    const id = Number(await this.current.getAttribute('data-image-id'));
    const path = (await this.current.locator('.lb-path').textContent())?.trim() ?? '';
    const label = (await this.current.getAttribute('data-label')) ?? '';
    return { id, path, label };
  }
}
