import { type Browser, chromium } from 'playwright-core';

/** The machine's Chromium (Debian's /usr/bin/chromium), headless and quiet: no update or sync traffic. */
export function launchHeadlessChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
