import type { FrameLocator, Locator, Page } from 'playwright-core';

/** Tabs of a workflow page in Temporal UI 2.54 (their `data-testid`s). The page opens on the timeline. */
export type WorkflowTab = 'timeline-tab' | 'history-tab' | 'user-metadata-tab' | 'search-attributes-tab';

/** Markdown panels of the "User Metadata" tab, by their heading. */
export type MarkdownPanel = 'Summary' | 'Details' | 'Current Details';

/** Views of the Event History tab (their `data-testid`s): every event, or one row per activity/timer/update. */
export type HistoryView = 'feed' | 'compact';

/** One item of the workflow page's timeline: an activity, timer, update or marker. */
export interface TimelineEvent {
  /** From the item's accessible name `Event <name>: <state>`: activity type, update name, or the timer's number and duration. */
  name: string;
  /** `Completed`, `Started` (still running, for a timer), `Canceled`… */
  state: string;
  /** The text drawn on the timeline: `<activity type> • <summary>` for an activity, the summary for a timer. */
  label: string;
}

/** One row of the Event History table. */
export interface HistoryRow {
  /** `Activity Task Scheduled`, `Timer Started`… in the `feed` view; `Activity`, `Timer`… in the `compact` view. */
  type: string;
  /** The details column, whitespace collapsed: `Activity Type scheduleKeys Summary Schedule deletion: …`. */
  details: string;
}

const collapse = (text: string): string => text.replace(/\s+/g, ' ').trim();

/**
 * Page object for one workflow in the Temporal Web UI (2.54.x). Selectors are headings, accessible names,
 * visible text and the UI's own `data-testid`s; user markdown is rendered by the UI inside
 * `<iframe title="output">` (served by `/render`), so panel text is read inside the iframe that follows each
 * heading. Since UI 2.54 the User Metadata tab no longer lists the activity and timer summaries ("Events with
 * Metadata"): they are on the timeline (the page's default view) and in the Event History rows.
 */
export class WorkflowPage {
  constructor(
    readonly page: Page,
    private readonly uiUrl: string,
    readonly workflowId: string,
    private readonly namespace = 'default',
  ) {}

  /** The page the README and the demo link to (the UI redirects it to the latest run's timeline). */
  get url(): string {
    return `${this.uiUrl}/namespaces/${this.namespace}/workflows/${encodeURIComponent(this.workflowId)}`;
  }

  /** Opens the workflow (latest run) and waits until its header shows the workflow ID. */
  async open(): Promise<void> {
    await this.page.goto(this.url);
    await this.page.getByTestId('workflow-id-heading').filter({ hasText: this.workflowId }).waitFor({ timeout: 30_000 });
  }

  async openTab(tab: WorkflowTab): Promise<void> {
    await this.page.getByTestId(tab).click();
    await this.page.waitForURL(/\/(timeline|history|user-metadata|search-attributes)(\?|$)/, { timeout: 15_000 }).catch(() => undefined);
  }

  /** Scrolls the page so that a panel of the User Metadata tab starts at the top of the viewport (for screenshots). */
  async scrollTo(heading: MarkdownPanel): Promise<void> {
    await this.page.locator(`xpath=//h3[normalize-space()="${heading}"]`).evaluate((el) => el.scrollIntoView({ block: 'start' }));
  }

  /** The rendered markdown of a panel of the User Metadata tab. */
  panel(heading: MarkdownPanel): FrameLocator {
    return this.page.locator(`xpath=//h3[normalize-space()="${heading}"]/following::iframe[@title="output"][1]`).contentFrame();
  }

  /**
   * Text of a markdown panel once it contains every `expected` string. Current details come from a
   * query the UI runs once per load, so between polls the page is asked to refresh (the UI's `r` key).
   */
  async panelText(heading: MarkdownPanel, expected: string[], timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let text = '';
    for (;;) {
      text = await this.panel(heading)
        .locator('body')
        .innerText({ timeout: 5_000 })
        .catch(() => '');
      if (expected.every((e) => text.includes(e))) return text;
      if (Date.now() > deadline) {
        throw new Error(`panel "${heading}" never showed ${JSON.stringify(expected)}; last text: ${JSON.stringify(text)}`);
      }
      if (heading === 'Current Details') await this.page.keyboard.press('r');
      await this.page.waitForTimeout(1_000);
    }
  }

  /** The items of the timeline (Timeline tab), in the order the UI lists them. */
  async timelineEvents(): Promise<TimelineEvent[]> {
    const items = this.page.getByRole('button', { name: /^Event .*: \w+$/ });
    const events: TimelineEvent[] = [];
    for (const item of await items.all()) {
      const [, name, state] = /^Event (.*): (\w+)$/.exec((await item.getAttribute('aria-label')) ?? '') ?? [];
      if (name !== undefined) events.push({ name, state, label: collapse(await item.innerText()) });
    }
    return events;
  }

  /** Switches the Event History tab to a view (`feed` is the UI's "All", the default). */
  async historyView(view: HistoryView): Promise<void> {
    await this.page.getByTestId(view).click();
  }

  /** The rows of the Event History table as shown (descending by default: newest first). */
  async historyRows(): Promise<HistoryRow[]> {
    const rows: HistoryRow[] = [];
    for (const row of await this.page.getByTestId('event-summary-row').all()) {
      const cells = await row.locator('td').allInnerTexts();
      if (cells.length >= 2) rows.push({ type: collapse(cells[cells.length - 2]), details: collapse(cells[cells.length - 1]) });
    }
    return rows;
  }

  /** Reads `read()` until `done` accepts it (the UI loads and refreshes asynchronously). */
  async until<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await read().catch(() => undefined);
      if (value !== undefined && done(value)) return value;
      if (Date.now() > deadline) throw new Error(`${what} never showed up; last read: ${JSON.stringify(value, null, 1)}`);
      await this.page.waitForTimeout(500);
    }
  }

  /** A locator for visible page text (outside iframes). */
  text(value: string | RegExp): Locator {
    return this.page.getByText(value).first();
  }
}

/** The workflow list filtered by a visibility query, as an operator would bookmark it. */
export async function openWorkflowList(page: Page, uiUrl: string, query: string, namespace = 'default'): Promise<void> {
  await page.goto(`${uiUrl}/namespaces/${namespace}/workflows?query=${encodeURIComponent(query)}`);
}
