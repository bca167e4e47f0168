import {
  FINAL_PHASES,
  type AuditRecord,
  type Blocker,
  type DecommissionInput,
  type DecommissionStatus,
  type ReportKey,
  type StoreInfo,
} from '../../shared/types';
import { USAGE_CLASSES } from '../../shared/usage';
import type { Identity } from '../context';
import type { DecommissionPageData, KeyPage } from './data';
import type { Flash } from './flash';
import { count, duration, instant, pagePath } from './format';
import { html, type SafeHtml } from './html';
import { layout } from './layout';
import { offers, resolveActionsFor, type Offer } from './permissions';

/** What the decommission page renders. */
export interface DecommissionView {
  data: DecommissionPageData;
  identity: Identity;
  /** The anti-CSRF token every form carries (bound to this identity). */
  csrfToken: string;
  flash?: Flash;
  /** The run in the Temporal Web UI. */
  webUiUrl: string;
  now: number;
}

/** The approval page of one decommission. */
export function renderDecommissionPage(view: DecommissionView): SafeHtml {
  const { data, identity } = view;
  const status = data.status;
  const store = status?.customKeyStoreId ?? data.workflowId;
  return layout({
    title: `${status?.phase ?? data.execution.status} · ${store}`,
    identity,
    body: html`
      <h1>Decommission of <code>${store}</code> ${phaseBadge(status?.phase ?? data.execution.status)}</h1>
      ${view.flash && html`<div class="flash ${view.flash.kind}" role="status" data-testid="flash">${view.flash.text}</div>`}
      ${status ? runSections(view, status) : html`<section><p>This run has no status to show (it ended ${data.execution.status} before it could answer).</p></section>`}
    `,
  });
}

function phaseBadge(phase: string): SafeHtml {
  return html`<span class="phase ${phase}" data-testid="phase">${phase}</span>`;
}

function runSections(view: DecommissionView, status: DecommissionStatus): SafeHtml {
  const allowed = offers(status, view.identity);
  // Before a decision the plan is what a person reads; once the run has ended, who decided what.
  const ended = FINAL_PHASES.includes(status.phase);
  return html`
    ${summary(view, status)} ${status.blocker && blockerSection(view, status.blocker, allowed.resolve)} ${decisionForms(view, status, allowed)}
    ${ended && historySection(view, status)} ${planSection(view, status)} ${usageSection(view, status)} ${!ended && historySection(view, status)}
  `;
}

function summary(view: DecommissionView, status: DecommissionStatus): SafeHtml {
  const { data, now } = view;
  const request = data.request;
  const requester = status.requester?.name ? `${status.requester.name} (${status.requestedBy})` : status.requestedBy;
  return html`<section>
    <table class="facts" data-testid="summary">
      <tr>
        <th>Store</th>
        <td>${storeText(status.customKeyStoreId, status.store)}</td>
      </tr>
      <tr>
        <th>Type</th>
        <td>${status.store?.type ?? '—'}${status.store && html` · connection ${status.store.connectionState}`}</td>
      </tr>
      <tr>
        <th>Requested by</th>
        <td data-testid="requester">${requester}${status.requester?.verified && html` <span class="muted">(verified)</span>`}</td>
      </tr>
      <tr>
        <th>Ticket</th>
        <td data-testid="ticket">${status.ticket ?? '—'}</td>
      </tr>
      <tr>
        <th>Phase</th>
        <td>
          ${phaseBadge(status.phase)}${status.previousPhase && html` <span class="muted">in ${status.previousPhase}</span>`}${status.dryRun && html` · dry run: nothing is changed`}
        </td>
      </tr>
      <tr>
        <th>Waiting period</th>
        <td>${waitingDays(status, request) !== undefined ? `${waitingDays(status, request)} days` : '—'}</td>
      </tr>
      <tr>
        <th>Approval</th>
        <td data-testid="approval">${approvalText(view, status)}</td>
      </tr>
      ${
        status.nextAction &&
        html`<tr>
          <th>Next</th>
          <td>${status.nextAction}${status.nextActionAt !== undefined && html` · ${instant(status.nextActionAt, now)}`}</td>
        </tr>`
      }
      ${
        status.latestDeletionDate !== undefined &&
        html`<tr>
          <th>Deletion dates</th>
          <td>${instant(status.earliestDeletionDate, now)} – ${instant(status.latestDeletionDate, now)}</td>
        </tr>`
      }
      ${
        status.cancel &&
        html`<tr>
          <th>Cancelled</th>
          <td>by ${status.cancel.by} · ${instant(status.cancel.at, now)}: ${status.cancel.reason}</td>
        </tr>`
      }
      ${
        status.lastError &&
        html`<tr>
          <th>Last error</th>
          <td>${status.lastError}</td>
        </tr>`
      }
      ${
        data.report?.reason &&
        html`<tr>
          <th>Why it ended</th>
          <td>${data.report.reason}</td>
        </tr>`
      }
      ${
        data.report &&
        data.report.notes.length > 0 &&
        html`<tr>
          <th>Notes</th>
          <td data-testid="notes">${data.report.notes.map((note) => html`<div>${note}</div>`)}</td>
        </tr>`
      }
      <tr>
        <th>Started</th>
        <td>${instant(status.startedAt, now)}</td>
      </tr>
      <tr>
        <th>Temporal</th>
        <td>
          <a href="${view.webUiUrl}" data-testid="web-ui-link" rel="noopener">Open this run in the Temporal Web UI</a>
          <span class="muted mono">${data.workflowId}</span>
        </td>
      </tr>
    </table>
  </section>`;
}

function storeText(id: string, store?: StoreInfo): SafeHtml {
  return html`<code>${id}</code
    >${store?.name && html` · ${store.name}`}${store?.cloudHsmClusterId && html` · cluster <code>${store.cloudHsmClusterId}</code>`}${
      store?.xksProxyUriEndpoint && html` · XKS proxy <code>${store.xksProxyUriEndpoint}</code>`
    }`;
}

/** The KMS waiting period: from the status (0.4.0 runs), else from the request as started (its default is 30 days). */
function waitingDays(status: DecommissionStatus, request: Partial<DecommissionInput> | undefined): number | undefined {
  return status.pendingWindowInDays ?? request?.pendingWindowInDays ?? (request ? 30 : undefined);
}

function approvalText(view: DecommissionView, status: DecommissionStatus): SafeHtml | string {
  if (status.approvedBy) return `approved by ${status.approvedBy}`;
  const timeout = duration(view.data.request?.approvalTimeout);
  if (status.phase === 'AWAITING_APPROVAL')
    return html`deadline
    ${instant(status.nextActionAt, view.now)}${timeout && html` <span class="muted">(approval timeout ${timeout})</span>`}${
      status.policy && !status.policy.allowSelfApproval && html` · four-eyes: someone other than the requester`
    }`;
  if (status.policy && !status.policy.requireApproval) return 'not required by the deployment policy';
  return '—';
}

function blockerSection(view: DecommissionView, blocker: Blocker, offer: Offer): SafeHtml {
  return html`<section class="blocker" data-testid="blocker">
    <h2>Blocked: ${blocker.kind} <code>${blocker.id}</code></h2>
    <p>${blocker.message}</p>
    <p class="note">
      Since ${instant(blocker.since, view.now)} · allowed actions: ${blocker.allowedActions.map((a, i) => html`${i > 0 && ', '}<code>${a}</code>`)}
    </p>
    ${
      offer.offered
        ? html`<form class="decision" method="post" action="${pagePath(view.data.workflowId)}/resolve" data-testid="resolve-form">
            <h3>Resolve ${blocker.id}</h3>
            ${csrfField(view)}
            <input type="hidden" name="blockerId" value="${blocker.id}" />
            <label for="resolve-action">Action</label>
            <select id="resolve-action" name="action" required>
              ${resolveActionsFor(blocker.allowedActions, view.identity).map((a) => html`<option value="${a}">${a}</option>`)}
            </select>
            <label for="resolve-comment">Comment</label>
            <textarea id="resolve-comment" name="comment" maxlength="1000"></textarea>
            <button type="submit">Resolve</button>
          </form>`
        : html`<p class="note" data-testid="resolve-unavailable">You cannot resolve: ${offer.why}.</p>`
    }
  </section>`;
}

function csrfField(view: DecommissionView): SafeHtml {
  // The decommission this page shows travels with every form: a decision is never applied to a later one.
  const run = view.data.status?.firstRunId;
  return html`<input type="hidden" name="_csrf" value="${view.csrfToken}" />${run !== undefined && html`<input type="hidden" name="run" value="${run}" />`}`;
}

function decisionForms(view: DecommissionView, status: DecommissionStatus, allowed: ReturnType<typeof offers>): SafeHtml | undefined {
  const action = pagePath(view.data.workflowId);
  const recentlyUsed = status.usage?.recentlyUsed ?? 0;
  const forms: SafeHtml[] = [];
  if (allowed.approve.offered)
    forms.push(
      html`<form class="decision" method="post" action="${action}/approve" data-testid="approve-form">
        <h3>Approve the plan</h3>
        ${csrfField(view)}
        <p class="note">
          Schedules the deletion of ${count(status.counts.toSchedule)} key(s) of <code>${status.customKeyStoreId}</code>${
            waitingDays(status, view.data.request) !== undefined && ` with a ${waitingDays(status, view.data.request)}-day waiting period`
          }.
        </p>
        ${
          recentlyUsed > 0 &&
          html`<p class="warn">
              ${count(recentlyUsed)} key(s) were used recently (see Usage evidence): type that number to acknowledge that deleting them is intended.
            </p>
            <label for="approve-ack">Recently used keys acknowledged</label>
            <input id="approve-ack" type="number" name="acknowledgeRecentlyUsedKeys" min="0" step="1" required />`
        }
        <label for="approve-comment">Comment</label>
        <textarea id="approve-comment" name="comment" maxlength="1000"></textarea>
        <button type="submit">Approve</button>
      </form>`,
    );
  if (allowed.cancel.offered)
    forms.push(
      html`<form class="decision" method="post" action="${action}/cancel" data-testid="cancel-form">
        <h3>Cancel the decommission</h3>
        ${csrfField(view)}
        <label for="cancel-reason">Reason (required)</label>
        <textarea id="cancel-reason" name="reason" maxlength="1000" required></textarea>
        <button type="submit" class="danger">Cancel decommission</button>
      </form>`,
    );
  const unavailable = (['approve', 'cancel'] as const)
    .map((kind) => ({ kind, offer: allowed[kind] }))
    .filter((o): o is { kind: 'approve' | 'cancel'; offer: { offered: false; why: string } } => !o.offer.offered)
    // Phase reasons for a finished run say nothing new; a missing role or four-eyes does.
    .filter(() => !FINAL_PHASES.includes(status.phase));
  if (forms.length === 0 && unavailable.length === 0) return undefined;
  return html`<section data-testid="decisions">
    <h2>Decisions</h2>
    ${forms.length > 0 && html`<div class="forms">${forms}</div>`}
    ${unavailable.map((o) => html`<p class="note" data-testid="${o.kind}-unavailable">No ${o.kind}: ${o.offer.why}.</p>`)}
  </section>`;
}

function planSection(view: DecommissionView, status: DecommissionStatus): SafeHtml {
  const c = status.counts;
  return html`<section data-testid="plan">
    <h2>Plan: ${count(c.inventoried)} key(s) in the store</h2>
    <p class="note" data-testid="counts">
      ${count(c.toSchedule)} to schedule · ${count(c.scheduled)} scheduled by this run · ${count(c.alreadyPending)} already pending · ${count(c.deleted)}
      deleted · ${count(c.rolledBack)} rolled
      back${view.data.request?.expectedKeyCount !== undefined && ` · expected ${count(view.data.request.expectedKeyCount)}`} · ${count(status.scannedKeys)}
      account keys scanned
    </p>
    ${keyTable(view, view.data.keys)}
  </section>`;
}

function keyTable(view: DecommissionView, page: KeyPage): SafeHtml {
  if (page.total === 0) return html`<p class="note">No keys inventoried yet.</p>`;
  if (page.keys.length === 0)
    return html`<p class="note" data-testid="key-pager">No keys past key ${count(page.total)}. <a href="${pagePath(view.data.workflowId)}">First page</a></p>`;
  const last = page.offset + page.keys.length;
  const previous = page.offset > 0 ? Math.max(0, page.offset - page.limit) : undefined;
  return html`<table data-testid="keys">
      <thead>
        <tr>
          <th>Key</th>
          <th>Aliases</th>
          <th>State before</th>
          <th>Scheduled</th>
          <th>Deletion date</th>
          <th>Last use</th>
        </tr>
      </thead>
      <tbody>
        ${page.keys.map((k) => keyRow(view, k))}
      </tbody>
    </table>
    <nav class="pager" data-testid="key-pager">
      <span>Keys ${count(page.offset + 1)}–${count(last)} of ${count(page.total)}</span>
      ${previous !== undefined && html`<a href="${pagePath(view.data.workflowId, { keys: previous || undefined })}" rel="prev">← Previous</a>`}
      ${page.nextOffset !== undefined && html`<a href="${pagePath(view.data.workflowId, { keys: page.nextOffset })}" rel="next">Next →</a>`}
    </nav>`;
}

function keyRow(view: DecommissionView, key: ReportKey): SafeHtml {
  const deleted = key.confirmedDeletedAt !== undefined;
  return html`<tr>
    <td class="mono">${key.keyId}</td>
    <td>${key.aliases.length ? key.aliases.map((a, i) => html`${i > 0 && html`<br />`}<code>${a}</code>`) : html`<span class="muted">none</span>`}</td>
    <td>${key.priorState}${key.restoredState && html` <span class="muted">(restored ${key.restoredState})</span>`}</td>
    <td>${key.scheduledBy}</td>
    <td>
      ${deleted ? html`deleted ${instant(key.confirmedDeletedAt, view.now)}` : key.deletionDate !== undefined ? instant(key.deletionDate, view.now) : '—'}
    </td>
    <td>${lastUse(view, key)}</td>
  </tr>`;
}

function lastUse(view: DecommissionView, key: ReportKey): SafeHtml | string {
  const usage = key.usage;
  if (!usage) return html`<span class="muted">not read yet</span>`;
  const label = usage.class === 'USED_RECENTLY' ? html`<span class="warn">used recently</span>` : usage.class.toLowerCase().replace(/_/g, ' ');
  if (usage.lastUsedAt === undefined) return html`${label}`;
  return html`${label} · ${usage.operation ?? 'use'} ${instant(usage.lastUsedAt, view.now)}`;
}

function usageSection(view: DecommissionView, status: DecommissionStatus): SafeHtml | undefined {
  const usage = status.usage;
  if (!usage) return undefined;
  const classes = USAGE_CLASSES.map((c) => `${count(usage.classes[c] ?? 0)} ${c.toLowerCase().replace(/_/g, ' ')}`).join(' · ');
  return html`<section data-testid="usage">
    <h2>Usage evidence</h2>
    <table class="facts">
      <tr>
        <th>Last use (window ${duration(usage.recentUseWindowMs)})</th>
        <td>
          ${usage.recentlyUsed > 0 ? html`<span class="warn">${count(usage.recentlyUsed)} key(s) used recently</span>` : 'no key used recently'} ·
          ${usage.checkedAt !== undefined ? html`read ${instant(usage.checkedAt, view.now)}` : 'not read yet'}
        </td>
      </tr>
      <tr>
        <th>By class</th>
        <td>${classes}</td>
      </tr>
      ${
        usage.recentKeys.length > 0 &&
        html`<tr>
          <th>Most recently used</th>
          <td>
            ${usage.recentKeys.slice(0, 5).map((k) => html`<div><code>${k.keyId}</code> · ${k.operation ?? 'use'} ${instant(k.lastUsedAt, view.now)}</div>`)}
          </td>
        </tr>`
      }
      ${
        usage.quietPeriod &&
        html`<tr>
          <th>Quiet period</th>
          <td>
            ${duration(usage.quietPeriod.ms)} · ${count(usage.quietPeriod.disabled)} key(s)
            disabled${usage.quietPeriod.endsAt !== undefined && html` · ends ${instant(usage.quietPeriod.endsAt, view.now)}`}
          </td>
        </tr>`
      }
      ${
        usage.watch &&
        html`<tr>
          <th>Attempted-use watch</th>
          <td>
            ${count(usage.watch.checks)} CloudTrail check(s) · ${count(usage.watch.findings)} attempted use(s) found (${count(usage.watch.acknowledged)}
            acknowledged)${usage.watch.stoppedBy && ` · stopped by ${usage.watch.stoppedBy}`}
          </td>
        </tr>`
      }
      ${
        usage.deletionEvidence &&
        html`<tr>
          <th>Deletion evidence</th>
          <td>DeleteKey events found for ${count(usage.deletionEvidence.found)} of ${count(usage.deletionEvidence.of)} deleted key(s)</td>
        </tr>`
      }
    </table>
  </section>`;
}

/**
 * Decisions so far. Once the run has ended its report holds the full record; while it runs the status holds
 * them (runs started on 0.4.0 on; older ones show the request, the approval and a cancel).
 */
function historySection(view: DecommissionView, status: DecommissionStatus): SafeHtml {
  const records: AuditRecord[] = view.data.report?.decisions ??
    status.decisions ?? [
      { what: 'requested', by: status.requestedBy, at: status.startedAt, ...(status.requester?.name ? { name: status.requester.name } : {}) },
      ...(status.approvedBy ? [{ what: 'approved' as const, by: status.approvedBy, at: Number.NaN }] : []),
      ...(status.cancel ? [{ what: 'cancelled' as const, by: status.cancel.by, at: status.cancel.at, detail: status.cancel.reason }] : []),
    ];
  return html`<section data-testid="history">
    <h2>Decision history</h2>
    <table>
      <thead>
        <tr>
          <th>What</th>
          <th>By</th>
          <th>When</th>
          <th>Detail</th>
        </tr>
      </thead>
      <tbody>
        ${records.map(
          (r) =>
            html`<tr>
              <td>${r.what}</td>
              <td>${r.name ? `${r.name} (${r.by})` : r.by}${r.verified && html` <span class="muted">(verified)</span>`}</td>
              <td>${Number.isNaN(r.at) ? '—' : instant(r.at, view.now)}</td>
              <td>${r.detail ?? ''}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}
