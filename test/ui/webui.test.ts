/**
 * The Temporal Web UI (the one the jest dev server serves, UI 2.54 with CLI 1.9.1) on a running
 * decommission: an operator who opens the workflow sees what it is (summary, details), where it is (current
 * details, phase search attribute) and what it did (activity and timer summaries, on the timeline and in the
 * event history), and can list decommissions by phase.
 *
 * `UPDATE_SCREENSHOTS=1` also writes the screenshots under docs/ (the README and docs/demo.md show them).
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { workflowIdFor, type DecommissionInput } from '../../src/client';
import { startHarness, type Harness } from '../support/harness';
import { seedStore, waitForPhase, type SeededStore } from '../support/scenario';
import { browserAvailability, launchChromium } from './chromium';
import { openWorkflowList, WorkflowPage, type HistoryRow, type TimelineEvent } from './workflow-page';

const availability = browserAvailability();
const SCREENSHOT_DIR = path.join(tmpdir(), 'kms-decommission-webui');
const DOCS_DIR = path.resolve(__dirname, '..', '..', 'docs');

function uiUrl(): string {
  const url = process.env.TEMPORAL_TEST_UI_URL;
  if (!url) throw new Error('TEMPORAL_TEST_UI_URL is not set: run through jest (its globalSetup starts the dev server with the Web UI)');
  return url;
}

/** Saves to a temp path always (for CI artifacts and debugging), and under docs/ on request when the docs show it. */
async function screenshot(page: Page, name: string, { docs = true } = {}): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, name);
  await page.screenshot({ path: file });
  if (docs && process.env.UPDATE_SCREENSHOTS === '1') copyFileSync(file, path.join(DOCS_DIR, name));
  return file;
}

/** The timeline item whose label contains `text`. */
function withText(events: TimelineEvent[], text: string): TimelineEvent | undefined {
  return events.find((event) => event.label.includes(text));
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

    test('the User Metadata tab shows the summary, the details and the current details', async () => {
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

      const file = await screenshot(page, 'webui-decommission.png');
      console.log(`Web UI screenshot (User Metadata tab): ${file}`);
    });

    // UI 2.54 opens a workflow on its timeline: every activity and timer labelled with its runbook step.
    test('the timeline labels activities and timers with their runbook step, and shows the waiting period running', async () => {
      const steps = {
        preflight: `Preflight: describe custom key store ${store.storeId}`,
        approval: 'Awaiting approval until ',
        schedule: 'Schedule deletion: keys 1–25 of 25 (7-day window)',
        waiting: 'Waiting period until ',
      };
      // The waiting period is a timer, or (0.2.0) the activity that watches the store until then: either way it
      // is the step still running, `Started` (timer, or activity) or `Scheduled` (activity between attempts).
      const running = (event?: TimelineEvent) => event !== undefined && ['Started', 'Scheduled'].includes(event.state);
      await ui.open();
      const events = await ui.until(
        () => ui.timelineEvents(),
        (ev) => Object.values(steps).every((s) => withText(ev, s)) && running(withText(ev, steps.waiting)),
        `timeline items ${JSON.stringify(Object.values(steps))}, the waiting period running`,
      );
      // A timer's label is its summary; an activity's is `[Attempt n / m • ]<activity type> • <summary>`.
      expect(withText(events, steps.preflight)).toMatchObject({
        state: 'Completed',
        label: expect.stringMatching(/^\w+ • Preflight: describe custom key store /),
      });
      expect(withText(events, steps.approval)?.label).toMatch(/^Awaiting approval until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/);
      expect(withText(events, steps.schedule)).toMatchObject({
        state: 'Completed',
        label: expect.stringMatching(/^\w+ • Schedule deletion: keys 1–25 of 25 \(7-day window\)$/),
      });
      expect(withText(events, steps.waiting)?.label).toMatch(/(^|• )Waiting period until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(next drift check \d{4}-/);
      expect(running(withText(events, steps.waiting))).toBe(true);
      const file = await screenshot(page, 'webui-timeline.png', { docs: false });
      console.log(`Web UI screenshot (Timeline): ${file}`);
    });

    test('the event history labels activities and timers with their runbook step', async () => {
      await ui.open();
      await ui.openTab('history-tab');
      await ui.historyView('feed');
      const summary = (text: string) => `Summary ${text}`;
      const expected: { type: RegExp; details: string }[] = [
        { type: /^Workflow Execution Started$/, details: summary(`Decommission KMS custom key store ${store.storeId} · 7-day window · CHG-2041`) },
        { type: /^Activity Task Scheduled$/, details: summary(`Preflight: describe custom key store ${store.storeId}`) },
        { type: /^Timer Started$/, details: summary('Awaiting approval until ') },
        { type: /^Activity Task Scheduled$/, details: summary('Schedule deletion: keys 1–25 of 25 (7-day window)') },
        // A timer, or (0.2.0) the activity that watches the store until the end of the waiting period.
        { type: /^(Timer Started|Activity Task Scheduled)$/, details: summary('Waiting period until ') },
      ];
      const hasRow = (rows: HistoryRow[], want: { type: RegExp; details: string }) =>
        rows.some((r) => want.type.test(r.type) && r.details.includes(want.details));
      const shown = (rows: HistoryRow[]) => expected.filter((want) => !hasRow(rows, want)).length === 0;
      const rows = await ui.until(
        () => ui.historyRows(),
        shown,
        `event history rows ${expected.map((e) => `${e.type.source} with "${e.details}"`).join(', ')}`,
      );
      expect(shown(rows)).toBe(true);

      // The compact view (one row per activity, timer or update) is the one the docs show.
      await ui.historyView('compact');
      await ui.until(
        () => ui.historyRows(),
        (r) =>
          hasRow(r, { type: /^Activity$/, details: summary('Schedule deletion: keys 1–25 of 25 (7-day window)') }) &&
          hasRow(r, { type: /^(Timer|Pending Activity)$/, details: summary('Waiting period until ') }),
        'compact event history with the scheduling activity and the waiting period',
      );
      const file = await screenshot(page, 'webui-history.png');
      console.log(`Web UI screenshot (Event History, compact): ${file}`);
    });

    test('the DecommissionPhase search attribute shows the phase, and the workflow list filters by it', async () => {
      await ui.open();
      await ui.openTab('search-attributes-tab');
      await pageShows(page, ['"DecommissionPhase": "WAITING"', `"KmsCustomKeyStoreId": "${store.storeId}"`]);

      await openWorkflowList(page, uiUrl(), `DecommissionPhase = 'WAITING' AND KmsCustomKeyStoreId = '${store.storeId}'`);
      await page.getByRole('link', { name: workflowId, exact: true }).first().waitFor({ timeout: 30_000 });
      // The same store under another phase matches nothing: the filter really uses the attribute.
      await openWorkflowList(page, uiUrl(), `DecommissionPhase = 'COMPLETED' AND KmsCustomKeyStoreId = '${store.storeId}'`);
      await pageShows(page, ['No Workflows Found']);
      expect(await page.getByRole('link', { name: workflowId, exact: true }).count()).toBe(0);
    });
  });
}
