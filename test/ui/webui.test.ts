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
import { type DecommissionInput } from '../../src/client';
import { eventually, startHarness, type Harness } from '../support/harness';
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
    /** Runs this file started: the afterAll ends them, so the shared dev server holds no stray work. */
    const started: string[] = [];

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
      started.push(workflowId);
      await waitForPhase(h, store.storeId, 'AWAITING_APPROVAL');
      await h.decommissions.approve(store.storeId, { approver: 'bob', comment: 'CAB-77' });
      await waitForPhase(h, store.storeId, 'WAITING');
      browser = await launchChromium();
      page = await browser.newPage({ viewport: { width: 1680, height: 1050 } });
      ui = new WorkflowPage(page, uiUrl(), workflowId);
    });

    afterAll(async () => {
      await browser?.close();
      await h?.emulator.admin.stopAllUsage().catch(() => undefined);
      // The runs would wait 7 real days; end them so the shared dev server holds no stray work.
      for (const id of started)
        await h?.temporal.workflow
          .getHandle(id)
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
      // The next thing the waiting period does (CloudTrail is watched inside the wait, between these).
      expect(current).toMatch(/Next:\s*Drift check at/);
      expect(current).toMatch(/Last use \(30d window\)\s+0 used recently/);

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
      // The timer's summary names the next wake-up: the drift check, or (0.3.0, watching usage) the CloudTrail check.
      expect(withText(events, steps.waiting)?.label).toMatch(
        /(^|• )Waiting period until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(next(?: drift check|: look for attempted use in cloudtrail at) \d{4}-/i,
      );
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

    test('a run blocked on KEY_IN_USE: the current details show the usage evidence and the attempted uses (caller, source, error code)', async () => {
      // An application still uses one key: GetKeyLastUsage sees it (acknowledged at approval), and once the key is
      // pending deletion its calls fail with KMSInvalidStateException, which the CloudTrail watch finds.
      const used = await seedStore(h, { enabled: 6, disabled: 1 });
      const usedKey = used.enabled[0] as string;
      const app = await h.emulator.admin.startUsage({
        keyId: usedKey,
        everyMs: 700,
        principal: 'payments-settlement',
        operations: ['GenerateDataKey'],
        sourceAddress: '127.0.0.23',
      });
      await eventually(
        async () => (await h.emulator.admin.usage()).find((u) => u.id === app.id)?.outcomes.OK ?? 0,
        (ok) => ok > 0,
        10_000,
        'the simulated application to call',
      );
      const usedId = (
        await h.decommissions.startDecommission({
          customKeyStoreId: used.storeId,
          requestedBy: 'alice',
          pendingWindowInDays: 7,
          ticket: 'CHG-2042',
          // A first check 2 s after scheduling began: a few failed calls by then, one table row each.
          timing: { storePollInterval: 100, usageCheckInterval: 2_000, cloudTrailDeliveryLag: 2_000 },
        })
      ).workflowId;
      started.push(usedId);
      await waitForPhase(h, used.storeId, 'AWAITING_APPROVAL');
      await h.decommissions.approve(used.storeId, { approver: 'bob', comment: 'CAB-78', acknowledgeRecentlyUsedKeys: 1 });
      const blocked = await waitForPhase(h, used.storeId, 'BLOCKED', 60_000);
      expect(blocked.blocker).toMatchObject({ id: 'KEY_IN_USE-1', kind: 'KEY_IN_USE' });

      const blockedUi = new WorkflowPage(page, uiUrl(), usedId);
      // The current details panel is half the page wide: the attempted-use table (ARNs, key ids, event ids) needs a wide one.
      await page.setViewportSize({ width: 2560, height: 1200 });
      await blockedUi.open();
      await blockedUi.openTab('user-metadata-tab');
      const current = await blockedUi.panelText('Current Details', ['KEY_IN_USE-1', app.principalArn, 'KMSInvalidStateException']);
      // The usage rows: last use per class (one recently used key, acknowledged), and the watch's findings.
      expect(current).toContain('1 used recently');
      expect(current).toContain(usedKey);
      expect(current).toContain('Attempted use (CloudTrail)');
      // The attempted-use table: one row per finding with caller, source IP, call, key and error code.
      for (const column of ['Caller', 'Source', 'Call', 'Key', 'When', 'Error', 'CloudTrail event']) expect(current).toContain(column);
      const rows = current.split('\n').filter((line) => line.includes(app.principalArn) && line.includes('KMSInvalidStateException'));
      expect(rows.length).toBeGreaterThanOrEqual(1);
      for (const row of rows) for (const cell of ['127.0.0.23', 'GenerateDataKey', usedKey]) expect(row).toContain(cell);

      await blockedUi.scrollTo('Current Details');
      const file = await screenshot(page, 'webui-key-in-use.png');
      console.log(`Web UI screenshot (KEY_IN_USE, current details): ${file}`);
      await page.setViewportSize({ width: 1680, height: 1050 });
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
