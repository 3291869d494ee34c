import type { TestContext } from 'node:test';
import { type Browser, chromium } from 'playwright-core';
import { defer } from './cleanup.js';

/** The machine's Chromium, headless and quiet (no update or sync traffic), closed when the test ends. */
export async function launchChromium(t: TestContext): Promise<Browser> {
  const browser = await chromium.launch({
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
  defer(t, () => browser.close());
  return browser;
}
