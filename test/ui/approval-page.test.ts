/**
 * The approval page in Chromium, end to end: a real dev server, the emulator, a worker, the portal API server
 * (with its approval pages) and the development issuer. The browser carries each person's token in the header an
 * authenticating proxy (oauth2-proxy) would set, as in production.
 *
 * `UPDATE_SCREENSHOTS=1` also writes the screenshots under docs/screenshots/ (the README shows them).
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { ApiContext, Identity } from '../../src/api/context';
import { buildApiServer, createApiContext } from '../../src/api/server';
import { DEV_USERS, startDevIssuer, type DevUserName, type RunningDevIssuer } from '../../src/devtools/dev-issuer';
import { eventually, startHarness, uniqueStoreId, type Harness } from '../support/harness';
import { createKeyOutOfBand, seedStore, waitForPhase, type SeededStore } from '../support/scenario';
import { browserAvailability, launchChromium } from './chromium';

const availability = browserAvailability();
const SCREENSHOT_DIR = path.join(tmpdir(), 'kms-decommission-approval-page');
const DOCS_DIR = path.resolve(__dirname, '..', '..', 'docs', 'screenshots');
/** A 7-day waiting period lasts 7 × 1.5 s: long enough to look at, short enough to see the run complete. */
const DAY_MS = 1_500;
/** Markup in a ticket: the page must show it as text, and no script may run. */
const TICKET = 'CHG-7<script>alert("xss")</script>';
const PROXY_HEADER = 'x-forwarded-access-token';

function uiUrl(): string {
  const url = process.env.TEMPORAL_TEST_UI_URL;
  if (!url) throw new Error('TEMPORAL_TEST_UI_URL is not set: run through jest (its globalSetup starts the dev server with the Web UI)');
  return url;
}

function identity(user: DevUserName): Identity {
  const u = DEV_USERS[user];
  return { subject: u.subject, name: u.name, email: u.email, roles: [...u.roles] };
}

async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, name);
  await page.screenshot({ path: file });
  if (process.env.UPDATE_SCREENSHOTS === '1') {
    mkdirSync(DOCS_DIR, { recursive: true });
    copyFileSync(file, path.join(DOCS_DIR, name));
  }
  return file;
}

if (!availability.available && availability.mustFail) {
  test('approval page browser test needs Chromium in CI', () => {
    throw new Error(availability.reason);
  });
} else if (!availability.available) {
  test.skip(`approval page browser test skipped: ${availability.reason}`, () => undefined);
} else {
  describe('the approval page in Chromium', () => {
    let h: Harness;
    let issuer: RunningDevIssuer;
    let ctx: ApiContext;
    let app: FastifyInstance;
    let baseUrl: string;
    let browser: Browser;
    const contexts: BrowserContext[] = [];
    /** Run A: requested by dave (requester and approver), 61 keys, one used recently. */
    let storeA: SeededStore;
    let runA: string;
    /** Run B: requested by alice; blocked later on a key created during its waiting period. */
    let storeB: SeededStore;
    let runB: string;
    const started: string[] = [];
    /** Every dialog any page opened: a script injected through a ticket would open one. */
    const dialogs: string[] = [];

    /** A browser context signed in as `user`: its token travels in the proxy header on every request. */
    async function as(user: DevUserName): Promise<{ page: Page; context: BrowserContext }> {
      const token = await issuer.mint(user, { expiresInSeconds: 1_800 });
      const context = await browser.newContext({ baseURL: baseUrl, viewport: { width: 1200, height: 900 }, extraHTTPHeaders: { [PROXY_HEADER]: token } });
      contexts.push(context);
      const page = await context.newPage();
      page.on('dialog', (dialog) => {
        dialogs.push(dialog.message());
        void dialog.dismiss();
      });
      return { page, context };
    }

    const pagePath = (workflowId: string) => `/decommissions/${workflowId}`;

    /** The anti-CSRF token of the first form on a page the context opened. */
    async function csrfToken(page: Page): Promise<string> {
      return (await page.locator('input[name="_csrf"]').first().getAttribute('value')) ?? '';
    }

    async function phaseShown(page: Page, workflowId: string, phases: string[], timeoutMs = 60_000): Promise<string> {
      return eventually(
        async () => {
          await page.goto(pagePath(workflowId));
          return page.getByTestId('phase').first().innerText();
        },
        (phase) => phases.includes(phase),
        timeoutMs,
        `page phase ${phases.join('|')}`,
      );
    }

    beforeAll(async () => {
      h = await startHarness({ emulator: { dayMs: DAY_MS } });
      issuer = await startDevIssuer({ tokenTtlSeconds: 1_800 });
      ctx = createApiContext(h.decommissions, {
        auth: { issuer: issuer.issuer, audience: [issuer.audience], jwks: issuer.jwks },
        portalUrl: 'http://portal.invalid',
        temporalUiUrl: uiUrl(),
        namespace: 'default',
      });
      app = await buildApiServer(ctx, { logger: false, pageSecret: randomBytes(32).toString('hex') });
      await app.listen({ host: '127.0.0.1', port: 0 });
      baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

      // One key of A is still used by an application: the approval must acknowledge it. The application stops
      // before the run starts, so nothing attempts to use the key once it is pending deletion.
      storeA = await seedStore(h, { enabled: 60, disabled: 1, bystanders: 2, aliases: true });
      const app0 = await h.emulator.admin.startUsage({ keyId: storeA.enabled[0] as string, everyMs: 100, operations: ['Encrypt'] });
      await eventually(
        () => h.emulator.admin.usage(),
        (sims) => (sims.find((s) => s.id === app0.id)?.outcomes.OK ?? 0) > 0,
        10_000,
        'a successful Encrypt',
      );
      await h.emulator.admin.stopUsage(app0.id);
      storeB = await seedStore(h, { enabled: 3, disabled: 0 });

      const timing = { storePollInterval: 100, driftCheckInterval: 500, verifyInterval: 200, verifyPatience: 20_000 };
      runA = (await ctx.decide.start(identity('dave'), { customKeyStoreId: storeA.storeId, pendingWindowInDays: 7, ticket: TICKET, timing })).workflowId;
      runB = (await ctx.decide.start(identity('alice'), { customKeyStoreId: storeB.storeId, pendingWindowInDays: 7, ticket: 'CHG-8', timing })).workflowId;
      started.push(runA, runB);
      await waitForPhase(h, storeA.storeId, 'AWAITING_APPROVAL');
      await waitForPhase(h, storeB.storeId, 'AWAITING_APPROVAL');
      browser = await launchChromium();
    });

    afterAll(async () => {
      for (const context of contexts) await context.close().catch(() => undefined);
      await browser?.close();
      await app?.close();
      await issuer?.close();
      for (const id of started)
        await h?.temporal.workflow
          .getHandle(id)
          .terminate('approval page test finished')
          .catch(() => undefined);
      await h?.close();
    });

    test('the approver sees the store, the request, the plan with its paged keys, the usage evidence and the Approve form', async () => {
      const { page } = await as('bob');
      const response = await page.goto(pagePath(runA));
      expect(response?.status()).toBe(200);
      // No script may run at all, and no other site may frame the page (clickjacking an Approve button).
      expect(response?.headers()['content-security-policy']).toMatch(/default-src 'none'.*frame-ancestors 'none'/);
      expect(await page.getByTestId('phase').first().innerText()).toBe('AWAITING_APPROVAL');
      expect(await page.getByTestId('identity').innerText()).toContain('Bob Baker (dev|bob)');
      // The ticket's markup is text: shown exactly, never executed.
      expect(await page.getByTestId('ticket').innerText()).toBe(TICKET);
      expect(await page.locator('script').count()).toBe(0);
      expect(await page.getByTestId('requester').innerText()).toContain('dev|dave');
      const summary = await page.getByTestId('summary').innerText();
      expect(summary).toContain(storeA.storeId);
      expect(summary).toContain('AWS_CLOUDHSM');
      expect(summary).toContain('7 days');
      expect(summary).toMatch(/deadline \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
      expect(await page.getByTestId('web-ui-link').getAttribute('href')).toBe(ctx.links.webUi(runA));

      // The plan: 61 keys, 50 a page, aliases and last use.
      expect(await page.getByTestId('plan').locator('h2').innerText()).toBe('Plan: 61 key(s) in the store');
      expect(await page.getByTestId('keys').locator('tbody tr').count()).toBe(50);
      expect(await page.getByTestId('key-pager').innerText()).toContain('Keys 1–50 of 61');
      const keys = await page.getByTestId('keys').innerText();
      expect(keys).toContain(`alias/${storeA.storeId}-enabled-`);
      expect(keys).toMatch(/used recently · Encrypt \d{4}-/);
      expect(await page.getByTestId('usage').innerText()).toContain('1 key(s) used recently');

      await expect(page.getByTestId('approve-form').isVisible()).resolves.toBe(true);
      await expect(page.locator('#approve-ack').isVisible()).resolves.toBe(true);
      // Bob is an operator too: he may cancel.
      await expect(page.getByTestId('cancel-form').isVisible()).resolves.toBe(true);
      const file = await screenshot(page, 'approval-page-awaiting-approval.png');
      console.log(`approval page screenshot (awaiting approval): ${file}`);

      await page.getByRole('link', { name: 'Next →' }).click();
      expect(await page.getByTestId('key-pager').innerText()).toContain('Keys 51–61 of 61');
      expect(await page.getByTestId('keys').locator('tbody tr').count()).toBe(11);
    });

    test('the requester sees no Approve form: alice lacks the role, dave (requester and approver) is held by four-eyes', async () => {
      const alice = (await as('alice')).page;
      await alice.goto(pagePath(runB));
      expect(await alice.getByTestId('approve-form').count()).toBe(0);
      expect(await alice.getByTestId('cancel-form').count()).toBe(0);
      expect(await alice.getByTestId('approve-unavailable').innerText()).toContain('approve needs the role "approver"');

      const dave = (await as('dave')).page;
      await dave.goto(pagePath(runA));
      expect(await dave.getByTestId('approve-form').count()).toBe(0);
      expect(await dave.getByTestId('approve-unavailable').innerText()).toContain('four-eyes: you requested this decommission');
      // On alice's run dave is just an approver: the form is there.
      await dave.goto(pagePath(runB));
      await expect(dave.getByTestId('approve-form').isVisible()).resolves.toBe(true);
    });

    test('forged POSTs change nothing: no token or a wrong one → 403; the requester forging his own approval is refused by the workflow; no role → 403', async () => {
      const { page: dave, context: daveContext } = await as('dave');
      // Dave takes a valid token of his own from a page that shows him a form (alice's run)…
      await dave.goto(pagePath(runB));
      const daveToken = await csrfToken(dave);
      expect(daveToken).not.toBe('');
      const post = (context: BrowserContext, workflowId: string, decision: string, form: Record<string, string>) =>
        context.request.post(`${pagePath(workflowId)}/${decision}`, { form, maxRedirects: 0 });

      // Without a token, or with a made-up one (well-formed or not): 403, nothing sent to the workflow.
      const forgeries: Record<string, string>[] = [{ comment: 'no token' }, { _csrf: 'forged-token' }, { _csrf: `${Date.now()}.${'A'.repeat(43)}` }];
      for (const form of forgeries) {
        const refused = await post(daveContext, runA, 'approve', form);
        expect(refused.status()).toBe(403);
        expect(await refused.text()).toContain('Nothing was changed');
      }
      // A token is bound to the verified subject: when another person's token arrives in the same browser (same
      // CSRF cookie), the page's token no longer passes.
      const { page: bob, context: bobContext } = await as('bob');
      await bob.goto(pagePath(runA));
      const bobToken = await csrfToken(bob);
      await bobContext.setExtraHTTPHeaders({ [PROXY_HEADER]: await issuer.mint('carol', { expiresInSeconds: 1_800 }) });
      expect((await post(bobContext, runA, 'cancel', { _csrf: bobToken, reason: 'not my token' })).status()).toBe(403);

      // …and posts his own approval with it, naming bob as the approver: the body's identity is ignored, the token's
      // subject is the approver, and the workflow's four-eyes rule refuses it.
      const forged = await post(daveContext, runA, 'approve', { _csrf: daveToken, approver: DEV_USERS.bob.subject, acknowledgeRecentlyUsedKeys: '1' });
      expect(forged.status()).toBe(303);
      expect(forged.headers().location).toBe(pagePath(runA));
      await dave.goto(pagePath(runA));
      expect(await dave.getByTestId('flash').innerText()).toMatch(
        /approve refused by the workflow: Four-eyes rule: approver "dev\|dave" requested this decommission/,
      );
      // The flash shows once.
      await dave.reload();
      expect(await dave.getByTestId('flash').count()).toBe(0);

      // Carol (operator, not approver) with a valid token of her own: the decision service refuses the role, 403.
      const { page: carol, context: carolContext } = await as('carol');
      await carol.goto(pagePath(runA));
      const noRole = await post(carolContext, runA, 'approve', { _csrf: await csrfToken(carol), acknowledgeRecentlyUsedKeys: '1' });
      expect(noRole.status()).toBe(403);
      expect(await noRole.text()).toContain('approver');

      const status = await h.decommissions.getStatus(storeA.storeId);
      expect(status.phase).toBe('AWAITING_APPROVAL');
      expect(status.approvedBy).toBeUndefined();
      expect(status.cancel).toBeUndefined();
      expect(dialogs).toEqual([]);
    });

    test('an unknown decommission is a 404 page, for a view and for a form', async () => {
      const { page } = await as('carol');
      const missing = `kms-decommission-${uniqueStoreId()}`;
      const view = await page.goto(pagePath(missing));
      expect(view?.status()).toBe(404);
      expect(await page.getByTestId('error-message').innerText()).toContain(missing);
      await page.goto(pagePath(runA));
      const post = await page.request.post(`${pagePath(missing)}/cancel`, { form: { _csrf: await csrfToken(page), reason: 'x' }, maxRedirects: 0 });
      expect(post.status()).toBe(404);
    });

    test('the approver approves: a wrong acknowledgement is refused with the workflow reason, the right one is accepted and the phase moves on', async () => {
      const { page } = await as('bob');
      await page.goto(pagePath(runA));
      await page.locator('#approve-ack').fill('0');
      await page.locator('#approve-comment').fill('CAB-77 approved');
      await page.getByRole('button', { name: 'Approve' }).click();
      await page.waitForURL(`**${pagePath(runA)}`);
      expect(await page.getByTestId('flash').innerText()).toMatch(/approve refused by the workflow: acknowledgeRecentlyUsedKeys: must be 1, got 0/);
      expect(await page.getByTestId('phase').first().innerText()).toBe('AWAITING_APPROVAL');

      await page.locator('#approve-ack').fill('1');
      await page.locator('#approve-comment').fill('CAB-77 approved');
      const staleToken = await csrfToken(page);
      await page.getByRole('button', { name: 'Approve' }).click();
      await page.waitForURL(`**${pagePath(runA)}`);
      expect(await page.getByTestId('flash').innerText()).toMatch(/^Approved by dev\|bob/);
      expect(await page.getByTestId('approve-form').count()).toBe(0);
      expect(await page.getByTestId('approval').innerText()).toBe('approved by dev|bob');

      // Twice (a double click, a second tab, a replayed form): the workflow refuses the second approval.
      const again = await page.request.post(`${pagePath(runA)}/approve`, { form: { _csrf: staleToken, acknowledgeRecentlyUsedKeys: '1' }, maxRedirects: 0 });
      expect(again.status()).toBe(303);
      await page.goto(pagePath(runA));
      expect(await page.getByTestId('flash').innerText()).toBe('approve refused by the workflow: Already approved by dev|bob');
      const phase = await phaseShown(page, runA, ['CONNECTING', 'SCHEDULING', 'WAITING', 'VERIFYING', 'DISCONNECTING', 'DELETING', 'COMPLETED']);
      expect(phase).not.toBe('AWAITING_APPROVAL');
      const status = await h.decommissions.getStatus(storeA.storeId);
      expect(status.approvedBy).toBe(DEV_USERS.bob.subject);
    });

    test('a blocked run: an operator who may approve sees the blocker and the Resolve form with its allowed actions, and resolves it; an operator who may not sees no form', async () => {
      await ctx.decide.approve(identity('bob'), runB, { comment: 'CAB-78' });
      await waitForPhase(h, storeB.storeId, 'WAITING');
      const intruder = await createKeyOutOfBand(h, storeB.storeId);
      await waitForPhase(h, storeB.storeId, 'BLOCKED');

      // Carol (operator only): schedule-new-keys deletes keys nobody approved, an approval in all but name, so
      // it needs the approver role too: no Resolve form for her, and a hand-made POST is refused (403).
      const carol = (await as('carol')).page;
      await carol.goto(pagePath(runB));
      expect(await carol.getByTestId('resolve-form').count()).toBe(0);
      const carolPost = await carol.request.post(`${pagePath(runB)}/resolve`, {
        form: { _csrf: await csrfToken(carol), blockerId: 'NEW_KEYS-1', action: 'schedule-new-keys' },
        maxRedirects: 0,
      });
      expect(carolPost.status()).toBe(403);
      expect((await h.decommissions.getStatus(storeB.storeId)).phase).toBe('BLOCKED');

      const { page } = await as('bob');
      await page.goto(pagePath(runB));
      const blocker = await page.getByTestId('blocker').innerText();
      expect(blocker).toContain('NEW_KEYS-1');
      expect(blocker).toContain(intruder);
      await expect(page.getByTestId('resolve-form').isVisible()).resolves.toBe(true);
      expect(await page.locator('#resolve-action option').allInnerTexts()).toEqual(['schedule-new-keys']);
      expect(await page.locator('input[name="blockerId"]').getAttribute('value')).toBe('NEW_KEYS-1');
      const file = await screenshot(page, 'approval-page-blocked.png');
      console.log(`approval page screenshot (blocked): ${file}`);

      // Alice, the requester, has no operator role: no Resolve form.
      const alice = (await as('alice')).page;
      await alice.goto(pagePath(runB));
      expect(await alice.getByTestId('resolve-form').count()).toBe(0);

      await page.locator('#resolve-comment').fill('expected: created by the migration');
      const token = await csrfToken(page);
      await page.getByRole('button', { name: 'Resolve' }).click();
      await page.waitForURL(`**${pagePath(runB)}`);
      expect(await page.getByTestId('flash').innerText()).toBe('Resolved NEW_KEYS-1 with schedule-new-keys');
      await phaseShown(page, runB, ['WAITING', 'VERIFYING', 'DISCONNECTING', 'DELETING', 'COMPLETED']);

      // Late: the same form again answers a blocker that is no longer open, and the workflow says so.
      await page.request.post(`${pagePath(runB)}/resolve`, { form: { _csrf: token, blockerId: 'NEW_KEYS-1', action: 'schedule-new-keys' }, maxRedirects: 0 });
      await page.goto(pagePath(runB));
      expect(await page.getByTestId('flash').innerText()).toMatch(/^resolve refused by the workflow: .*NEW_KEYS-1/);
    });

    test('an operator cancels: without a reason nothing is sent, with one the run ends CANCELLED; a late cancel is refused', async () => {
      const storeC = await seedStore(h, { enabled: 2, disabled: 0 });
      const runC = (await ctx.decide.start(identity('alice'), { customKeyStoreId: storeC.storeId, pendingWindowInDays: 7 })).workflowId;
      started.push(runC);
      await waitForPhase(h, storeC.storeId, 'AWAITING_APPROVAL');
      const { page } = await as('carol');
      await page.goto(pagePath(runC));
      const token = await csrfToken(page);
      // The browser will not submit an empty required field; a hand-made POST can.
      await page.request.post(`${pagePath(runC)}/cancel`, { form: { _csrf: token, reason: '   ' }, maxRedirects: 0 });
      await page.goto(pagePath(runC));
      expect(await page.getByTestId('flash').innerText()).toMatch(/^cancel not sent: .*reason/);
      expect((await h.decommissions.getStatus(storeC.storeId)).cancel).toBeUndefined();

      await page.locator('#cancel-reason').fill('wrong store: CHG-9 was withdrawn');
      await page.getByRole('button', { name: 'Cancel decommission' }).click();
      await page.waitForURL(`**${pagePath(runC)}`);
      expect(await page.getByTestId('flash').innerText()).toMatch(/^Cancelling/);
      await phaseShown(page, runC, ['CANCELLED']);
      expect(await page.getByTestId('history').innerText()).toContain('wrong store: CHG-9 was withdrawn');

      await page.request.post(`${pagePath(runC)}/cancel`, { form: { _csrf: token, reason: 'again' }, maxRedirects: 0 });
      await page.goto(pagePath(runC));
      expect(await page.getByTestId('flash').innerText()).toMatch(/^cancel refused by the workflow: /);
    });

    test('a completed run shows its decision history and no forms', async () => {
      const { page } = await as('bob');
      await phaseShown(page, runA, ['COMPLETED'], 90_000);
      expect(await page.locator('form.decision').count()).toBe(0);
      const history = await page.getByTestId('history').innerText();
      expect(history).toMatch(/requested\s+Dave Dual \(dev\|dave\)|requested\s+dev\|dave/);
      expect(history).toMatch(/approved\s+(Bob Baker \()?dev\|bob/);
      expect(history).toContain('CAB-77 approved');
      expect(await page.getByTestId('counts').innerText()).toContain('61 deleted');
      const file = await screenshot(page, 'approval-page-completed.png');
      console.log(`approval page screenshot (completed): ${file}`);
    });

    test('the list filters by phase and links each run', async () => {
      const { page } = await as('carol');
      await eventually(
        async () => {
          await page.goto('/decommissions?phase=COMPLETED');
          return page.getByTestId('decommissions').innerText();
        },
        (text) => text.includes(storeA.storeId),
        30_000,
        'run A listed as COMPLETED',
      );
      await page.goto('/decommissions?phase=AWAITING_APPROVAL');
      expect(await page.getByTestId('decommissions').innerText()).not.toContain(storeA.storeId);
      await page.goto('/decommissions?phase=COMPLETED');
      await page.getByRole('link', { name: storeA.storeId }).click();
      expect(await page.getByTestId('phase').first().innerText()).toBe('COMPLETED');
      const bad = await page.goto('/decommissions?phase=NOPE');
      expect(bad?.status()).toBe(400);
    });

    test('no token → 401 page; a token of another issuer → 401; nothing leaks the token', async () => {
      const anonymous = await browser.newContext({ baseURL: baseUrl });
      contexts.push(anonymous);
      const page = await anonymous.newPage();
      expect((await page.goto(pagePath(runA)))?.status()).toBe(401);
      const forged = await issuer.mint('bob', { issuer: 'https://evil.example' });
      const other = await browser.newContext({ baseURL: baseUrl, extraHTTPHeaders: { [PROXY_HEADER]: forged } });
      contexts.push(other);
      const response = await (await other.newPage()).goto(pagePath(runA));
      expect(response?.status()).toBe(401);
      expect(await response?.text()).not.toContain(forged);
    });
  });
}
