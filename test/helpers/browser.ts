import type { TestContext } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchHeadlessChromium } from '../../clients/screenshots/headless-chromium.js';
import { defer } from './cleanup.js';

/** The machine's Chromium, headless and quiet (no update or sync traffic), closed when the test ends. */
export async function launchChromium(t: TestContext): Promise<Browser> {
  const browser = await launchHeadlessChromium();
  defer(t, () => browser.close());
  return browser;
}
