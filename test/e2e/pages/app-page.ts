import fs from 'node:fs';
import path from 'node:path';
import { expect, type Locator, type Page } from '@playwright/test';

/** The views of the left navigation, in order. */
export const views = ['library', 'pretrain', 'clusters', 'label', 'finetune', 'runs'] as const;
export type ViewName = (typeof views)[number];

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

  /** Saves a full-page screenshot as <name>.png in the test output folder; returns its path. */
  async screenshot(name: string): Promise<string> {
    fs.mkdirSync(this.screenshotDir, { recursive: true });
    const file = path.join(this.screenshotDir, `${name}.png`);
    await this.page.screenshot({ path: file, fullPage: true });
    return file;
  }
}
