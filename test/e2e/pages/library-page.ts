import { expect, type Locator, type Page } from '@playwright/test';
import type { AppPage } from './app-page';

/** Numbers as the page shows them (4,000 -> 4000). */
function toNumber(text: string | null): number {
  return Number((text ?? '').replace(/[^\d]/g, ''));
}

/**
 * Page object of the Library view: adding folders (the path field of browser mode), the
 * import progress, the folder list with its counts, the virtual gallery, the image view and
 * the problems list.
 */
export class LibraryPage {
  readonly page: Page;
  readonly view: Locator;
  readonly grid: Locator;
  readonly viewer: Locator;
  readonly problems: Locator;

  constructor(readonly app: AppPage) {
    this.page = app.page;
    this.view = this.page.getByTestId('view-library');
    this.grid = this.page.getByTestId('gallery-grid');
    this.viewer = this.page.getByTestId('image-viewer');
    this.problems = this.page.getByTestId('problems-list');
  }

  async open(): Promise<void> {
    await this.app.goTo('library');
    await expect(this.view.locator('h1')).toHaveText('Library');
  }

  /** Types a folder path into the add field (browser mode has no native dialog) and adds it. */
  async addFolder(folderPath: string): Promise<void> {
    await this.page.getByTestId('add-folder-path').fill(folderPath);
    await this.page.getByTestId('add-folder-submit').click();
    await expect(this.page.getByTestId('add-folder-message')).toHaveText(/Added/);
  }

  /** The import task of a folder, as the library shows it. */
  importTask(folderName: string): Locator {
    return this.page.getByTestId('library-tasks').getByTestId('task-import').filter({ hasText: folderName });
  }

  /**
   * Starts recording the status and counts every import task shows (a MutationObserver in the
   * page), so a test can check the progress it passed through however fast the import runs.
   */
  async recordTaskStates(): Promise<void> {
    await this.page.evaluate(() => {
      const seen: string[] = [];
      (globalThis as unknown as { taskStates: string[] }).taskStates = seen;
      const record = (): void => {
        for (const task of document.querySelectorAll('[data-testid="task-import"]')) {
          const state = `${task.getAttribute('data-status')}|${task.querySelector('[data-testid="task-counts"]')?.textContent?.trim()}`;
          if (seen.at(-1) !== state) seen.push(state);
        }
      };
      new MutationObserver(record).observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
    });
  }

  /** The states recorded since `recordTaskStates`. */
  async recordedTaskStates(): Promise<string[]> {
    return this.page.evaluate(() => [...(globalThis as unknown as { taskStates: string[] }).taskStates]);
  }

  /** Waits for a folder's import to finish, watching its progress. */
  async waitForImport(folderName: string, timeout = 120_000): Promise<Locator> {
    const task = this.importTask(folderName);
    await expect(task).toBeVisible();
    await expect(task).toHaveAttribute('data-status', 'finished', { timeout });
    await expect(this.folder(folderName)).toHaveAttribute('data-status', 'finished');
    return task;
  }

  folder(name: string): Locator {
    return this.page.locator(`[data-testid="folder-card"][data-folder-name="${name}"]`);
  }

  /** The counts a folder card shows. */
  async counts(name: string): Promise<{ images: number; rejected: number; labelled: number }> {
    const card = this.folder(name);
    return {
      images: toNumber(await card.getByTestId('folder-images').textContent()),
      rejected: toNumber(await card.getByTestId('folder-rejected').textContent()),
      labelled: toNumber(await card.getByTestId('folder-labelled').textContent()),
    };
  }

  async galleryCount(): Promise<number> {
    return toNumber(await this.page.getByTestId('gallery-count').textContent());
  }

  tile(index: number): Locator {
    return this.grid.locator(`[data-testid="gallery-tile"][data-index="${index}"]`);
  }

  /** Scrolls the grid to a fraction (0 top, 1 bottom) of its height. */
  async scrollTo(fraction: number): Promise<void> {
    await this.grid.evaluate((element, f) => {
      element.scrollTop = (element.scrollHeight - element.clientHeight) * f;
    }, fraction);
  }

  /** Indexes of the tiles in the DOM (the virtual grid keeps only those near the view). */
  async renderedIndexes(): Promise<number[]> {
    return this.grid.locator('[data-testid="gallery-tile"]').evaluateAll((tiles) => tiles.map((tile) => Number(tile.getAttribute('data-index'))));
  }

  /** Waits until the thumbnail of a tile has loaded (decoded, with a size). */
  async expectThumbnailLoaded(index: number): Promise<void> {
    const image = this.tile(index).locator('img');
    await expect(image).toBeVisible();
    await expect.poll(() => image.evaluate((element: HTMLImageElement) => element.complete && element.naturalWidth > 0)).toBe(true);
  }

  async openImage(index: number): Promise<void> {
    await this.tile(index).click();
    await expect(this.viewer).toBeVisible();
    await expect(this.viewer).toHaveAttribute('data-index', String(index));
    const image = this.viewer.getByTestId('viewer-image');
    await expect.poll(() => image.evaluate((element: HTMLImageElement) => element.complete && element.naturalWidth > 0)).toBe(true);
  }

  async closeViewer(): Promise<void> {
    await this.page.keyboard.press('Escape');
    await expect(this.viewer).toBeHidden();
  }

  async filterFolder(name: string): Promise<void> {
    await this.page.getByTestId('filter-folder').selectOption({ label: name });
  }

  async openProblems(): Promise<Locator> {
    await this.page.getByTestId('tab-problems').click();
    await expect(this.problems).toBeVisible();
    return this.problems.getByTestId('problem-row');
  }

  async openGallery(): Promise<void> {
    await this.page.getByTestId('tab-gallery').click();
    await expect(this.grid).toBeVisible();
  }
}
