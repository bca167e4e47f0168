/**
 * The approval page's pure parts: the escaping template, what the page renders for whom, the CSP's style hash,
 * the flash cookie and the form parsing. The browser test (test/ui/approval-page.test.ts) drives the whole path.
 */
import { createHash } from 'node:crypto';
import type { Identity } from '../../src/api/context';
import type { DecommissionPageData } from '../../src/api/page/data';
import { renderDecommissionPage } from '../../src/api/page/decommission-view';
import { CSRF_TOKEN_MAX_AGE_MS, CsrfTokens } from '../../src/api/page/csrf';
import { FlashCodec } from '../../src/api/page/flash';
import { approveBody, cancelBody, FormError, resolveBody } from '../../src/api/page/forms';
import { escapeHtml, html, raw, renderToString } from '../../src/api/page/html';
import { CONTENT_SECURITY_POLICY } from '../../src/api/page/layout';
import { renderListPage } from '../../src/api/page/list-view';
import { offers } from '../../src/api/page/permissions';
import type { DecommissionStatus, ReportKey } from '../../src/shared/types';

const NOW = Date.UTC(2026, 2, 22, 10, 0, 0);
const bob: Identity = { subject: 'dev|bob', name: 'Bob Baker', roles: ['approver', 'operator'] };
const alice: Identity = { subject: 'dev|alice', name: 'Alice Archer', roles: ['requester'] };
const dave: Identity = { subject: 'dev|dave', name: 'Dave Dual', roles: ['requester', 'approver'] };
const carol: Identity = { subject: 'dev|carol', roles: ['operator'] };

function status(overrides: Partial<DecommissionStatus> = {}): DecommissionStatus {
  return {
    customKeyStoreId: 'cks-1234567890abcdef0',
    phase: 'AWAITING_APPROVAL',
    dryRun: false,
    store: {
      customKeyStoreId: 'cks-1234567890abcdef0',
      name: 'payments-hsm',
      type: 'AWS_CLOUDHSM',
      connectionState: 'CONNECTED',
      cloudHsmClusterId: 'cluster-abc',
    },
    requestedBy: 'dev|dave',
    ticket: 'CHG-1042',
    policy: { requireApproval: true, allowSelfApproval: false },
    counts: { inventoried: 3, toSchedule: 3, scheduled: 0, alreadyPending: 0, deleted: 0, remaining: 3, rolledBack: 0 },
    scannedKeys: 5,
    nextAction: 'Approval by someone other than dev|dave',
    nextActionAt: NOW + 7 * 86_400_000,
    startedAt: NOW - 60_000,
    continuedAsNew: 0,
    usage: {
      recentUseWindowMs: 30 * 86_400_000,
      checkedAt: NOW - 30_000,
      classes: { USED_RECENTLY: 0, USED_BEFORE_WINDOW: 1, NOT_USED_SINCE_TRACKING: 2, UNKNOWN: 0 },
      recentlyUsed: 0,
      recentKeys: [],
    },
    ...overrides,
  };
}

function key(n: number, extra: Partial<ReportKey> = {}): ReportKey {
  const keyId = `0000000${n}-aaaa-bbbb-cccc-dddddddddddd`;
  return { keyId, arn: `arn:aws:kms:us-east-1:111122223333:key/${keyId}`, aliases: [], priorState: 'Enabled', scheduledBy: 'not-scheduled', ...extra };
}

function page(st: DecommissionStatus, identity: Identity, extra: Partial<DecommissionPageData> = {}): string {
  const data: DecommissionPageData = {
    workflowId: `kms-decommission-${st.customKeyStoreId}`,
    execution: { runId: 'run-1', status: 'RUNNING', startTime: new Date(st.startedAt) },
    status: st,
    keys: { keys: [key(1, { aliases: ['alias/payments'] }), key(2), key(3)], total: 3, offset: 0, limit: 50 },
    request: { customKeyStoreId: st.customKeyStoreId, requestedBy: st.requestedBy, pendingWindowInDays: 7 },
    ...extra,
  };
  return renderToString(renderDecommissionPage({ data, identity, csrfToken: 'tok"en<', webUiUrl: 'http://ui.test/namespaces/default/workflows/x', now: NOW }));
}

describe('html template', () => {
  test('interpolations are escaped; nested templates and raw() are not escaped again', () => {
    const ticket = `<script>alert("x")</script>&'\``;
    expect(renderToString(html`<td>${ticket}</td>`)).toBe('<td>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;&#96;</td>');
    expect(renderToString(html`<p>${html`<b>${'<i>'}</b>`}</p>`)).toBe('<p><b>&lt;i&gt;</b></p>');
    expect(renderToString(html`${raw('<hr />')}`)).toBe('<hr />');
    // An attribute value cannot be broken out of.
    expect(renderToString(html`<a title="${'" onmouseover="x'}"></a>`)).toBe('<a title="&quot; onmouseover=&quot;x"></a>');
  });

  test('arrays join, nothing renders for undefined, null and booleans; numbers render (0 included)', () => {
    expect(renderToString(html`${['<a>', html`<b />`]}|${undefined}|${null}|${false}|${true}|${0}`)).toBe('&lt;a&gt;<b />|||||0');
    expect(escapeHtml('a&b')).toBe('a&amp;b');
  });
});

describe('approval page', () => {
  test('a ticket, store name, comment, alias or blocker message carrying markup is shown as text', () => {
    const evil = '<script>alert(1)</script>';
    const st = status({
      ticket: evil,
      store: { customKeyStoreId: 'cks-1234567890abcdef0', name: `<img src=x onerror=alert(1)>`, type: 'AWS_CLOUDHSM', connectionState: 'CONNECTED' },
      cancel: undefined,
      lastError: `<iframe src="//evil">`,
    });
    const out = page(st, bob, { keys: { keys: [key(1, { aliases: [`alias/${evil}`] })], total: 1, offset: 0, limit: 50 } });
    expect(out).not.toContain('<script>alert');
    expect(out).not.toContain('<img src=x');
    expect(out).not.toContain('<iframe');
    expect(out).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(out).toContain('&lt;img src=x onerror=alert(1)&gt;');
    // The CSRF token is escaped in its attribute too.
    expect(out).toContain('value="tok&quot;en&lt;"');
  });

  test('the approver sees the plan, the paged key list and the Approve form; the CSP allows exactly the page style', () => {
    const out = page(status(), bob);
    expect(out).toContain('data-testid="approve-form"');
    expect(out).toContain('action="/decommissions/kms-decommission-cks-1234567890abcdef0/approve"');
    expect(out).toContain('name="_csrf"');
    expect(out).toContain('alias/payments');
    expect(out).toContain('Keys 1–3 of 3');
    expect(out).toContain('CHG-1042');
    expect(out).toContain('7 days');
    expect(out).toContain('href="http://ui.test/namespaces/default/workflows/x"');
    // No acknowledgement field when nothing was used recently.
    expect(out).not.toContain('acknowledgeRecentlyUsedKeys');
    const style = /<style>([\s\S]*?)<\/style>/.exec(out)?.[1] ?? '';
    expect(CONTENT_SECURITY_POLICY).toContain(`'sha256-${createHash('sha256').update(style).digest('base64')}'`);
    expect(CONTENT_SECURITY_POLICY).toContain("frame-ancestors 'none'");
    expect(out).not.toContain('<script');
  });

  test('with recently used keys the Approve form asks for their count', () => {
    const st = status();
    st.usage = { ...st.usage!, recentlyUsed: 2, recentKeys: [{ keyId: 'k1', operation: 'Decrypt', lastUsedAt: NOW - 3_600_000 }] };
    const out = page(st, bob);
    expect(out).toMatch(/<input id="approve-ack" type="number" name="acknowledgeRecentlyUsedKeys"[^>]*required/);
    expect(out).toContain('2 key(s) were used recently');
  });

  test('the requester sees no Approve form (four-eyes), a requester-only identity is told the role it lacks', () => {
    const asDave = page(status(), dave);
    expect(asDave).not.toContain('data-testid="approve-form"');
    expect(asDave).toContain('four-eyes: you requested this decommission');
    const asAlice = page(status({ requestedBy: 'dev|someone' }), alice);
    expect(asAlice).not.toContain('data-testid="approve-form"');
    expect(asAlice).not.toContain('data-testid="cancel-form"');
    expect(asAlice).toContain('approve needs the role &quot;approver&quot;');
    // A deployment that allows self-approval offers the form to the requester.
    expect(offers(status({ policy: { requireApproval: true, allowSelfApproval: true } }), dave).approve).toEqual({ offered: true });
  });

  test('forms follow the phase: no approve once approved or outside AWAITING_APPROVAL, no cancel where the phase refuses it', () => {
    expect(offers(status({ approvedBy: 'dev|bob', phase: 'WAITING' }), bob).approve.offered).toBe(false);
    expect(offers(status({ phase: 'WAITING' }), bob).cancel).toEqual({ offered: true });
    expect(offers(status({ phase: 'DISCONNECTING' }), bob).cancel.offered).toBe(false);
    expect(offers(status({ phase: 'COMPLETED' }), bob)).toMatchObject({ approve: { offered: false }, cancel: { offered: false }, resolve: { offered: false } });
    expect(offers(status({ cancel: { by: 'dev|carol', reason: 'x', at: NOW } }), bob).cancel.offered).toBe(false);
    // Cancel needs the operator role: an approver-only identity is not offered it.
    expect(offers(status(), { subject: 'dev|x', roles: ['approver'] }).cancel.offered).toBe(false);
    const out = page(status({ phase: 'COMPLETED', approvedBy: 'dev|bob' }), bob, {
      report: {
        outcome: 'COMPLETED',
        customKeyStoreId: 'cks-1234567890abcdef0',
        pendingWindowInDays: 7,
        startedAt: NOW - 60_000,
        endedAt: NOW,
        decisions: [
          { what: 'requested', by: 'dev|dave', at: NOW - 60_000 },
          { what: 'approved', by: 'dev|bob', name: 'Bob Baker', verified: true, at: NOW - 50_000, detail: 'CAB <77>' },
        ],
        counts: status().counts,
        notes: ['HSM backups may still hold <key material>'],
        keyCount: 3,
        keys: [],
        keysTruncated: false,
      },
    });
    expect(out).not.toContain('<form class="decision"');
    expect(out).toContain('Bob Baker (dev|bob)');
    expect(out).toContain('CAB &lt;77&gt;');
    expect(out).toContain('HSM backups may still hold &lt;key material&gt;');
    // An ended run shows who decided before the plan.
    expect(out.indexOf('data-testid="history"')).toBeLessThan(out.indexOf('data-testid="plan"'));
  });

  test('a blocked run shows its blocker and, to an operator who may approve, the Resolve form with exactly its allowed actions', () => {
    const st = status({
      phase: 'BLOCKED',
      previousPhase: 'WAITING',
      approvedBy: 'dev|bob',
      blocker: {
        id: 'NEW_KEYS-1',
        kind: 'NEW_KEYS',
        message: '2 key(s) <new> appeared',
        since: NOW - 1000,
        allowedActions: ['schedule-new-keys'],
        keyIds: ['a', 'b'],
        keyCount: 2,
      },
    });
    const out = page(st, bob);
    expect(out).toContain('data-testid="resolve-form"');
    expect(out).toContain('<input type="hidden" name="blockerId" value="NEW_KEYS-1" />');
    expect(out.match(/<option value="[^"]*">/g)).toEqual(['<option value="schedule-new-keys">']);
    expect(out).toContain('2 key(s) &lt;new&gt; appeared');
    expect(out).toContain('data-testid="cancel-form"');
    expect(page(st, alice)).toContain('resolve needs the role &quot;operator&quot;');
    // An operator who may not approve: schedule-new-keys deletes keys, so no form for her (the service refuses too).
    expect(page(st, carol)).not.toContain('data-testid="resolve-form"');
    expect(page(st, carol)).toContain('needs the role &quot;approver&quot; too');
    // Blocked in DISCONNECTING: cancel is refused as in that phase, resolve is still offered.
    const late = offers({ ...st, previousPhase: 'DISCONNECTING' }, bob);
    expect(late.cancel.offered).toBe(false);
    expect(late.resolve.offered).toBe(true);
  });

  test('the key list pages: links to the previous and next pages', () => {
    const keys = Array.from({ length: 50 }, (_, i) => key(i));
    const out = page(status(), bob, { keys: { keys, total: 120, offset: 50, limit: 50, nextOffset: 100 } });
    expect(out).toContain('Keys 51–100 of 120');
    expect(out).toContain('href="/decommissions/kms-decommission-cks-1234567890abcdef0" rel="prev"');
    expect(out).toContain('href="/decommissions/kms-decommission-cks-1234567890abcdef0?keys=100" rel="next"');
  });

  test('an offset past the last key links back to the first page', () => {
    const out = page(status(), bob, { keys: { keys: [], total: 3, offset: 500, limit: 50 } });
    expect(out).toContain('No keys past key 3.');
    expect(out).not.toContain('data-testid="keys"');
  });

  test('the list page escapes store IDs and links each run', () => {
    const out = renderToString(
      renderListPage({
        identity: bob,
        rows: [
          { workflowId: 'kms-decommission-cks-<x>', runId: 'r', customKeyStoreId: 'cks-<x>', phase: 'WAITING', status: 'RUNNING', startTime: new Date(NOW) },
        ],
        truncated: false,
        now: NOW,
      }),
    );
    expect(out).toContain('href="/decommissions/kms-decommission-cks-%3Cx%3E"');
    expect(out).toContain('<code>cks-&lt;x&gt;</code>');
  });
});

describe('flash cookie', () => {
  const codec = new FlashCodec(Buffer.alloc(32, 7));

  test('round-trips for its page only, and is refused forged, expired or under another key', () => {
    const cookie = codec.encode('wf-1', { kind: 'ok', text: 'Approved by dev|bob' }, NOW);
    expect(codec.decode(cookie, 'wf-1', NOW + 1000)).toEqual({ kind: 'ok', text: 'Approved by dev|bob' });
    expect(codec.decode(cookie, 'wf-2', NOW + 1000)).toBeUndefined();
    expect(codec.decode(cookie, 'wf-1', NOW + 61_000)).toBeUndefined();
    expect(new FlashCodec(Buffer.alloc(32, 8)).decode(cookie, 'wf-1', NOW)).toBeUndefined();
    const [body, mac] = cookie.split('.');
    const forged = Buffer.from(JSON.stringify({ kind: 'ok', text: 'Go to evil.example', workflowId: 'wf-1', until: NOW + 9e9 })).toString('base64url');
    expect(codec.decode(`${forged}.${mac}`, 'wf-1', NOW)).toBeUndefined();
    expect(codec.decode(`${body}`, 'wf-1', NOW)).toBeUndefined();
    expect(codec.decode(undefined, 'wf-1', NOW)).toBeUndefined();
  });
});

describe('anti-CSRF tokens', () => {
  const tokens = new CsrfTokens(Buffer.alloc(32, 1));
  const nonce = CsrfTokens.newNonce();

  test('a token passes only with its cookie nonce, for its subject, within its age', () => {
    const token = tokens.create(nonce, 'dev|bob', NOW);
    expect(tokens.check(nonce, token, 'dev|bob', NOW + 1000)).toBeUndefined();
    expect(tokens.check(nonce, token, 'dev|carol', NOW)).toBe('mismatch');
    expect(tokens.check(CsrfTokens.newNonce(), token, 'dev|bob', NOW)).toBe('mismatch');
    expect(tokens.check(undefined, token, 'dev|bob', NOW)).toBe('no-cookie');
    expect(tokens.check(nonce, undefined, 'dev|bob', NOW)).toBe('no-token');
    expect(tokens.check(nonce, ['a', 'b'], 'dev|bob', NOW)).toBe('no-token');
    expect(tokens.check(nonce, 'forged', 'dev|bob', NOW)).toBe('malformed');
    expect(tokens.check(nonce, token, 'dev|bob', NOW + CSRF_TOKEN_MAX_AGE_MS + 1)).toBe('expired');
    // Another key (another deployment, or a restart without DECOMMISSION_PAGE_SECRET) never accepts it.
    expect(new CsrfTokens(Buffer.alloc(32, 2)).check(nonce, token, 'dev|bob', NOW)).toBe('mismatch');
    // A forged issue time fails the MAC before its age is looked at.
    const [, mac] = token.split('.');
    expect(tokens.check(nonce, `${NOW + 5000}.${mac}`, 'dev|bob', NOW + 5000)).toBe('mismatch');
  });
});

describe('form bodies', () => {
  test('only the form fields are read: an identity field in a hand-made POST is dropped, not passed on', () => {
    expect(approveBody({ comment: ' ok ', approver: 'dev|alice', acknowledgeRecentlyUsedKeys: '2' })).toEqual({
      comment: 'ok',
      acknowledgeRecentlyUsedKeys: 2,
    });
    expect(approveBody({ comment: '', acknowledgeRecentlyUsedKeys: '' })).toEqual({});
    expect(cancelBody({ reason: 'wrong store', by: 'dev|x' })).toEqual({ reason: 'wrong store' });
    expect(resolveBody({ action: 'retry', blockerId: 'STEP_FAILED-1', by: 'x' })).toEqual({ action: 'retry', blockerId: 'STEP_FAILED-1' });
  });

  test('a count that is not a whole number, or a field sent twice, is refused before anything is sent', () => {
    expect(() => approveBody({ acknowledgeRecentlyUsedKeys: '2.5' })).toThrow(FormError);
    expect(() => approveBody({ acknowledgeRecentlyUsedKeys: '-1' })).toThrow(/whole number/);
    expect(() => approveBody({ comment: ['a', 'b'] })).toThrow(/more than once/);
  });
});
