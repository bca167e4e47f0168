import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Debian's browser (`apt-get install chromium`); `scripts/install-system-deps.sh` installs it in CI. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Whether the browser test can run here, and if not, whether that is a failure (CI) or a skip (a laptop). */
export interface BrowserAvailability {
  available: boolean;
  /** Set when unavailable: why, and how to fix it. */
  reason?: string;
  /** In CI a missing browser is a broken environment, not a reason to skip. */
  mustFail: boolean;
}

export function browserAvailability(env: NodeJS.ProcessEnv = process.env): BrowserAvailability {
  if (existsSync(CHROMIUM_PATH)) return { available: true, mustFail: false };
  return {
    available: false,
    reason: `${CHROMIUM_PATH} not found: install Debian's chromium (apt-get install -y chromium, or bash scripts/install-system-deps.sh)`,
    mustFail: Boolean(env.CI),
  };
}

/**
 * Headless Chromium without the system's sandbox (containers run as root) and without the background
 * traffic (updates, sync, QUIC) that makes CI runs slow or flaky.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
