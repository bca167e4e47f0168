import type { Identity } from '../context';
import { html, type SafeHtml } from './html';
import { layout } from './layout';

/** An error page: what went wrong in one sentence, and the way back. Never a stack trace. */
export function renderErrorPage(options: { statusCode: number; title: string; message: string; identity?: Identity; backTo?: string }): SafeHtml {
  return layout({
    title: `${options.statusCode} ${options.title}`,
    identity: options.identity,
    body: html`<section data-testid="error">
      <h1>${options.statusCode} · ${options.title}</h1>
      <p data-testid="error-message">${options.message}</p>
      <p><a href="${options.backTo ?? '/decommissions'}">Back</a></p>
    </section>`,
  });
}
