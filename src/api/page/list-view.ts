import type { DecommissionSummary } from '../../client/decommission-client';
import type { Phase } from '../../shared/types';
import { RUNBOOK_ORDER } from '../../workflows/phases';
import type { Identity } from '../context';
import { instant, pagePath } from './format';
import { html, type SafeHtml } from './html';
import { layout } from './layout';

/** What the list page renders. */
export interface DecommissionListView {
  identity: Identity;
  rows: DecommissionSummary[];
  phase?: Phase;
  /** More rows matched than the page shows. */
  truncated: boolean;
  now: number;
}

/** Decommissions, newest first, filtered by phase. */
export function renderListPage(view: DecommissionListView): SafeHtml {
  return layout({
    title: 'Decommissions',
    identity: view.identity,
    body: html`<h1>Decommissions${view.phase && html` in <span class="phase ${view.phase}">${view.phase}</span>`}</h1>
      <section>
        <form method="get" action="/decommissions">
          <label for="phase">Phase</label>
          <select id="phase" name="phase">
            <option value="">any</option>
            ${RUNBOOK_ORDER.map((p) => html`<option value="${p}" ${p === view.phase && 'selected'}>${p}</option>`)}
          </select>
          <button type="submit">Filter</button>
        </form>
      </section>
      <section>
        <table data-testid="decommissions">
          <thead>
            <tr>
              <th>Store</th>
              <th>Phase</th>
              <th>Execution</th>
              <th>Started</th>
              <th>Closed</th>
            </tr>
          </thead>
          <tbody>
            ${view.rows.map(
              (r) =>
                html`<tr>
                  <td>
                    <a href="${pagePath(r.workflowId)}"><code>${r.customKeyStoreId ?? r.workflowId}</code></a>
                  </td>
                  <td>${r.phase ? html`<span class="phase ${r.phase}">${r.phase}</span>` : '—'}</td>
                  <td>${r.status}</td>
                  <td>${instant(r.startTime.getTime(), view.now)}</td>
                  <td>${r.closeTime ? instant(r.closeTime.getTime(), view.now) : '—'}</td>
                </tr>`,
            )}
          </tbody>
        </table>
        ${view.rows.length === 0 && html`<p class="note">No decommission matches.</p>`}
        ${view.truncated && html`<p class="note">Showing the newest ${view.rows.length}; filter by phase to see others.</p>`}
      </section>`,
  });
}
