/**
 * The Temporal Web UI (the one the jest dev server serves) on a running decommission: an operator who
 * opens the workflow sees what it is (summary, details), where it is (current details, phase search
 * attribute) and what it did (activity and timer summaries), and can list decommissions by phase.
 *
 * `UPDATE_SCREENSHOTS=1` also writes the screenshots under docs/ (the README shows them).
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { workflowIdFor, type DecommissionInput } from '../../src/client';
import { startHarness, type Harness } from '../support/harness';
import { seedStore, waitForPhase, type SeededStore } from '../support/scenario';
import { browserAvailability, launchChromium } from './chromium';
import { openWorkflowList, WorkflowPage } from './workflow-page';

const availability = browserAvailability();
const SCREENSHOT_DIR = path.join(tmpdir(), 'kms-decommission-webui');
const DOCS_DIR = path.resolve(__dirname, '..', '..', 'docs');

function uiUrl(): string {
  const url = process.env.TEMPORAL_TEST_UI_URL;
  if (!url) throw new Error('TEMPORAL_TEST_UI_URL is not set: run through jest (its globalSetup starts the dev server with the Web UI)');
  return url;
}

/** Saves to a temp path always (for CI artifacts and debugging), and under docs/ on request. */
async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, name);
  await page.screenshot({ path: file });
  if (process.env.UPDATE_SCREENSHOTS === '1') copyFileSync(file, path.join(DOCS_DIR, name));
  return file;
}

/** Polls the page's visible text (outside iframes) until it contains every expected string. */
async function pageShows(page: Page, expected: string[], timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await page.locator('body').innerText();
    if (expected.every((e) => text.includes(e))) return text;
    if (Date.now() > deadline) throw new Error(`page never showed ${JSON.stringify(expected.filter((e) => !text.includes(e)))}`);
    await page.waitForTimeout(500);
  }
}

if (!availability.available && availability.mustFail) {
  test('Web UI browser test needs Chromium in CI', () => {
    throw new Error(availability.reason);
  });
} else if (!availability.available) {
  test.skip(`Web UI browser test skipped: ${availability.reason}`, () => undefined);
} else {
  describe('Temporal Web UI on a running decommission', () => {
    const KEYS = { enabled: 24, disabled: 1 };
    let h: Harness;
    let browser: Browser;
    let page: Page;
    let store: SeededStore;
    let workflowId: string;
    let ui: WorkflowPage;

    beforeAll(async () => {
      // Real-time days: the 7-day waiting period keeps the run in WAITING for the whole test.
      h = await startHarness();
      store = await seedStore(h, { ...KEYS, bystanders: 3 });
      const input: DecommissionInput = {
        customKeyStoreId: store.storeId,
        requestedBy: 'alice',
        pendingWindowInDays: 7,
        ticket: 'CHG-2041',
        expectedKeyCount: KEYS.enabled + KEYS.disabled,
        timing: { storePollInterval: 100 },
      };
      workflowId = (await h.decommissions.startDecommission(input)).workflowId;
      await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
      await h.decommissions.approve(store.storeId, { approver: 'bob', comment: 'CAB-77' });
      await waitForPhase(h, store.storeId, 'WAITING');
      browser = await launchChromium();
      page = await browser.newPage({ viewport: { width: 1680, height: 1050 } });
      ui = new WorkflowPage(page, uiUrl(), workflowId);
    });

    afterAll(async () => {
      await browser?.close();
      // The run would wait 7 real days; end it so the shared dev server holds no stray work.
      await h?.temporal.workflow
        .getHandle(workflowIdFor(store.storeId))
        .terminate('web UI test finished')
        .catch(() => undefined);
      await h?.close();
    });

    test('the workflow page shows the summary, the details and the current details', async () => {
      await ui.open();
      await ui.openTab('user-metadata-tab');

      const summary = await ui.panelText('Summary', [store.storeId]);
      expect(summary).toContain(`Decommission KMS custom key store ${store.storeId} · 7-day window · CHG-2041`);

      const details = await ui.panelText('Details', ['Requested by']);
      expect(details).toMatch(/Requested by:\s*alice/);
      expect(details).toMatch(/Waiting period:\s*7 days/);
      expect(details).toContain('four-eyes');

      // Rendered by the workflow (setCurrentDetails), fetched by the UI through a query to the worker.
      const current = await ui.panelText('Current Details', [`WAITING · ${store.storeId}`]);
      expect(current).toContain('25 in store · 25 scheduled by this run');
      expect(current).toMatch(/Approved by\s+bob/);
      expect(current).toContain('Deletion dates');
      expect(current).toContain('Drift check');

      // "Events with Metadata": activity and timer summaries read like a runbook.
      await pageShows(page, ['Schedule deletion: keys 1–25 of 25 (7-day window)', 'Waiting period until']);
      const file = await screenshot(page, 'webui-decommission.png');
      console.log(`Web UI screenshot (User Metadata tab): ${file}`);
    });

    test('the event history labels activities and timers with their runbook step', async () => {
      await ui.open();
      await ui.openTab('history-tab');
      await pageShows(page, [
        `Preflight: describe custom key store ${store.storeId}`,
        'Awaiting approval until',
        'Schedule deletion: keys 1–25 of 25 (7-day window)',
        'Waiting period until',
      ]);
      const file = await screenshot(page, 'webui-history.png');
      console.log(`Web UI screenshot (History tab): ${file}`);
    });

    test('the DecommissionPhase search attribute shows the phase, and the workflow list filters by it', async () => {
      await ui.open();
      await ui.openTab('search-attributes-tab');
      await pageShows(page, ['"DecommissionPhase": "WAITING"', `"KmsCustomKeyStoreId": "${store.storeId}"`]);

      await openWorkflowList(page, uiUrl(), `DecommissionPhase = 'WAITING' AND KmsCustomKeyStoreId = '${store.storeId}'`);
      await page.getByRole('link', { name: workflowId, exact: true }).first().waitFor({ timeout: 30_000 });
      // The same store under another phase matches nothing: the filter really uses the attribute.
      await openWorkflowList(page, uiUrl(), `DecommissionPhase = 'COMPLETED' AND KmsCustomKeyStoreId = '${store.storeId}'`);
      await pageShows(page, ['No Results']);
      expect(await page.getByRole('link', { name: workflowId, exact: true }).count()).toBe(0);
    });
  });
}
