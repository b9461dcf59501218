import fs from 'node:fs';
import path from 'node:path';
import { expect, type Locator, type Page } from '@playwright/test';

/** The views of the left navigation, in order. */
export const views = ['library', 'pretrain', 'clusters', 'label', 'finetune', 'runs'] as const;
export type ViewName = (typeof views)[number];

/** The screen sizes every screen must work at without horizontal scrolling (issue 19). */
export const reviewSizes = [
  { width: 1440, height: 900 },
  { width: 1280, height: 800 },
] as const;

/**
 * Page object of the app shell: navigation, status bar and About panel. Later page objects
 * (library, pretraining, ...) build on it; the Electron e2e tests reuse it unchanged.
 */
export class AppPage {
  readonly statusEngine: Locator;
  readonly statusConnection: Locator;
  readonly about: Locator;

  constructor(
    readonly page: Page,
    private readonly screenshotDir: string,
  ) {
    this.statusEngine = page.getByTestId('status-engine');
    this.statusConnection = page.getByTestId('status-connection');
    this.about = page.getByTestId('about-panel');
  }

  /** Opens the app at the URL browser mode printed and waits for the shell. */
  async open(url: string): Promise<void> {
    await this.page.goto(url);
    await expect(this.page.getByRole('navigation', { name: 'Main' })).toBeVisible();
  }

  /** Clicks a view in the left navigation and waits for it to show. */
  async goTo(view: ViewName | 'settings'): Promise<Locator> {
    await this.page.getByTestId(`nav-${view}`).click();
    const shown = this.page.getByTestId(`view-${view}`);
    await expect(shown).toBeVisible();
    return shown;
  }

  /** The engine name shown in the status bar, once probing is done. */
  async engineInStatusBar(): Promise<string> {
    const name = this.statusEngine.locator('strong');
    await expect(name).toBeVisible();
    return (await name.textContent())?.trim() ?? '';
  }

  async openAbout(): Promise<void> {
    await this.page.getByTestId('nav-about').click();
    await expect(this.about).toBeVisible();
  }

  async closeAboutWithEscape(): Promise<void> {
    await this.page.keyboard.press('Escape');
    await expect(this.about).toBeHidden();
  }

  /**
   * What scrolls where it must not, as "what: scroll / visible" lines (empty when nothing does):
   * the page or the main content sideways, and the page itself up and down (the screen has one
   * height; its content scrolls inside).
   */
  async scrollProblems(): Promise<string[]> {
    return this.page.evaluate(() => {
      const found: string[] = [];
      const check = (element: Element | null, name: string): void => {
        if (element && element.scrollWidth > element.clientWidth + 1) found.push(`${name}: ${element.scrollWidth} / ${element.clientWidth}`);
      };
      check(document.documentElement, 'page');
      check(document.querySelector('main.content'), 'main content');
      const page = document.documentElement;
      if (page.scrollHeight > page.clientHeight + 1) found.push(`page height: ${page.scrollHeight} / ${page.clientHeight}`);
      return found;
    });
  }

  /**
   * Screenshots at each review size (1440x900 and 1280x800) as <name>-<w>x<h>.png, checking
   * first that nothing scrolls where it must not (scrollProblems); puts the viewport back as it was. Returns the paths.
   * `arrange` runs after each resize, before the screenshot (to scroll what is shown into view).
   */
  async screenshotSizes(name: string, sizes: readonly { width: number; height: number }[] = reviewSizes, arrange?: () => Promise<void>): Promise<string[]> {
    const before = this.page.viewportSize();
    const files: string[] = [];
    try {
      for (const size of sizes) {
        await this.page.setViewportSize(size);
        // Two frames: the resize observers and the layout have run.
        await this.page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
        expect(await this.scrollProblems(), `${name} at ${size.width}x${size.height}`).toEqual([]);
        await arrange?.();
        files.push(await this.screenshot(`${name}-${size.width}x${size.height}`));
      }
    } finally {
      if (before) await this.page.setViewportSize(before);
    }
    return files;
  }

  /** Saves a full-page screenshot as <name>.png in the test output folder; returns its path. */
  async screenshot(name: string): Promise<string> {
    fs.mkdirSync(this.screenshotDir, { recursive: true });
    const file = path.join(this.screenshotDir, `${name}.png`);
    await this.page.screenshot({ path: file, fullPage: true });
    return file;
  }
}
