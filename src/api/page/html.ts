/**
 * A tiny HTML template helper that escapes by default. Every interpolated value is escaped unless it is
 * already {@link SafeHtml} (the result of another `html` template, or of {@link raw} for markup written in
 * this codebase). Arrays are joined; `undefined`, `null` and booleans render nothing, so conditional
 * fragments read naturally: `${cond && html`<p>…</p>`}`.
 *
 * Data from the workflow (store names, tickets, comments, blocker messages, aliases) is written by people
 * and other systems: nothing of it may reach the page as markup.
 */

/** Markup that is safe to emit as is. Only this module constructs it. */
export class SafeHtml {
  /** @internal use {@link html} or {@link raw} */
  constructor(readonly value: string) {}

  toString(): string {
    return this.value;
  }
}

/** A value a template accepts. */
export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/** Escapes text for an HTML text node or a quoted attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => ESCAPES[c] ?? c);
}

function render(value: HtmlValue): string {
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === undefined || value === null || value === false || value === true) return '';
  return escapeHtml(String(value));
}

/**
 * Tagged template: literal parts are markup, interpolations are escaped.
 *
 * @example
 * html`<td>${status.ticket}</td>` // a ticket `<script>` renders as `&lt;script&gt;`
 */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? '');
  });
  return new SafeHtml(out);
}

/** Trusts `markup` as is: only for constant markup written in this codebase (e.g. the stylesheet), never for data. */
export function raw(markup: string): SafeHtml {
  return new SafeHtml(markup);
}

/** Renders any template value to a string (the response body). */
export function renderToString(value: HtmlValue): string {
  return render(value);
}
