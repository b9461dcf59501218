/** Debian's Chromium, which Playwright drives here (`npx playwright install` cannot download). */
export const chromiumPath = process.env.JIGCLU_CHROMIUM ?? '/usr/bin/chromium';

/** Flags for a closed network: no background connections, no sandbox when running as root. */
export const chromiumFlags = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
