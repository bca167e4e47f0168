import type { FrameLocator, Locator, Page } from 'playwright-core';

/** Tabs of a workflow page in Temporal UI 2.42 (their `data-testid`s). */
export type WorkflowTab = 'history-tab' | 'user-metadata-tab' | 'search-attributes-tab';

/** Markdown panels of the "User Metadata" tab, by their heading. */
export type MarkdownPanel = 'Summary' | 'Details' | 'Current Details';

/**
 * Page object for one workflow in the Temporal Web UI (2.42.x). Selectors are headings, visible text and
 * the UI's own `data-testid`s; user markdown is rendered by the UI inside `<iframe title="output">`
 * (served by `/render`), so panel text is read inside the iframe that follows each heading.
 */
export class WorkflowPage {
  constructor(
    readonly page: Page,
    private readonly uiUrl: string,
    readonly workflowId: string,
    private readonly namespace = 'default',
  ) {}

  /** The page the README and the demo link to. */
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
    await this.page.waitForURL(/\/(history|user-metadata|search-attributes)$/, { timeout: 15_000 }).catch(() => undefined);
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

  /** A locator for visible page text (outside iframes). */
  text(value: string | RegExp): Locator {
    return this.page.getByText(value).first();
  }
}

/** The workflow list filtered by a visibility query, as an operator would bookmark it. */
export async function openWorkflowList(page: Page, uiUrl: string, query: string, namespace = 'default'): Promise<void> {
  await page.goto(`${uiUrl}/namespaces/${namespace}/workflows?query=${encodeURIComponent(query)}`);
}
