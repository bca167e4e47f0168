import { createHash } from 'node:crypto';
import type { Identity } from '../context';
import { html, raw, type HtmlValue, type SafeHtml } from './html';

/** The page's only style sheet, inline (emitted exactly as is: the CSP allows it by its hash): the page has no scripts and loads nothing. */
const STYLE = `
:root { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1f24; background: #f6f7f9; }
body { margin: 0; }
header { background: #1f2937; color: #f9fafb; padding: 10px 24px; display: flex; justify-content: space-between; align-items: baseline; }
header a { color: #f9fafb; text-decoration: none; font-weight: 600; }
header .who { font-size: 13px; color: #d1d5db; }
main { padding: 16px 24px; max-width: 1160px; }
h1 { font-size: 20px; margin: 4px 0 12px; }
h2 { font-size: 16px; margin: 20px 0 8px; }
section { background: #fff; border: 1px solid #e5e7eb; border-radius: 6px; padding: 12px 16px; margin-bottom: 12px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eef0f3; vertical-align: top; }
th { color: #4b5563; font-weight: 600; }
table.facts th { width: 190px; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
.muted { color: #6b7280; }
.phase { display: inline-block; padding: 2px 8px; border-radius: 10px; font-size: 12px; font-weight: 700; background: #e5e7eb; }
.phase.AWAITING_APPROVAL { background: #fef3c7; color: #92400e; }
.phase.BLOCKED, .phase.FAILED { background: #fee2e2; color: #991b1b; }
.phase.COMPLETED, .phase.DRY_RUN_COMPLETE { background: #d1fae5; color: #065f46; }
.phase.CANCELLED { background: #e5e7eb; color: #374151; }
.flash { padding: 10px 14px; border-radius: 6px; margin-bottom: 12px; }
.flash.ok { background: #d1fae5; border: 1px solid #6ee7b7; }
.flash.error { background: #fee2e2; border: 1px solid #fca5a5; }
.blocker { border-color: #fca5a5; background: #fff7f7; }
.forms { display: flex; gap: 12px; flex-wrap: wrap; }
form.decision { flex: 1 1 300px; border: 1px solid #e5e7eb; border-radius: 6px; padding: 10px 12px; background: #fafafa; }
form.decision h3 { margin: 0 0 8px; font-size: 14px; }
label { display: block; font-size: 13px; margin: 6px 0 2px; }
input[type=text], input[type=number], textarea, select { width: 100%; box-sizing: border-box; padding: 5px; font: inherit; font-size: 13px; }
textarea { height: 48px; }
button { margin-top: 8px; padding: 6px 14px; font-weight: 600; border-radius: 4px; border: 1px solid #374151; background: #1f2937; color: #fff; cursor: pointer; }
button.danger { background: #991b1b; border-color: #7f1d1d; }
.note { font-size: 13px; color: #4b5563; margin: 4px 0; }
.warn { color: #92400e; font-weight: 600; }
nav.pager { margin-top: 8px; font-size: 13px; display: flex; gap: 16px; }
`;

/** Built outside any template so that no formatter can touch the bytes the CSP hash covers. */
const STYLE_ELEMENT = raw('<style>' + STYLE + '</style>');

/**
 * The response's Content-Security-Policy: no script at all, this one style sheet (by hash), forms only to this
 * origin, and no framing — an approval button inside someone else's frame is how clickjacking approves.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`,
  "img-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** Who is looking, as the header shows it. */
export function identityText(identity: Identity): string {
  const display = identity.name ?? identity.email;
  return `${display ? `${display} (${identity.subject})` : identity.subject} · ${identity.roles.length ? identity.roles.join(', ') : 'no role'}`;
}

/** The page shell: header with the signed-in identity, then `body`. */
export function layout(options: { title: string; identity?: Identity; body: HtmlValue }): SafeHtml {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="same-origin" />
        <title>${options.title}</title>
        ${STYLE_ELEMENT}
      </head>
      <body>
        <header>
          <a href="/decommissions">KMS custom key store decommissions</a>
          ${options.identity && html`<span class="who" data-testid="identity">Signed in as ${identityText(options.identity)}</span>`}
        </header>
        <main>${options.body}</main>
      </body>
    </html> `;
}
