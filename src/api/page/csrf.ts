import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Anti-CSRF tokens for the page forms: a signed double-submit token bound to the person.
 *
 * The browser holds a random nonce in an HttpOnly, SameSite=Strict cookie; each form carries
 * `<issuedAt>.<HMAC(key, nonce, subject, issuedAt)>`. A POST passes only with the cookie, a token made for that
 * cookie *and* for the verified subject of the request, not older than {@link CSRF_TOKEN_MAX_AGE_MS}. So:
 * - another site cannot read the token (same-origin policy) nor make one (it lacks the key);
 * - a token seen elsewhere (a screenshot, a log) is useless without the browser's cookie;
 * - a token of one person fails in another person's request, even in the same browser.
 *
 * Why this is needed although identity comes from a header: an authenticating proxy sets that header from its
 * own session cookie, which a cross-site form POST carries along.
 */

/** Cookie holding the browser's nonce. */
export const CSRF_COOKIE = 'kms_decommission_csrf';

/** How long a page's forms stay usable: a working day, then the page must be reloaded. */
export const CSRF_TOKEN_MAX_AGE_MS = 12 * 60 * 60 * 1000;

/** Why a token was refused (for the log; the person sees one message). */
export type CsrfRefusal = 'no-cookie' | 'no-token' | 'malformed' | 'expired' | 'mismatch';

export class CsrfTokens {
  constructor(private readonly key: Buffer) {}

  /** A fresh nonce for a browser that has none. */
  static newNonce(): string {
    return randomBytes(32).toString('base64url');
  }

  /** A token for forms shown to `subject` in the browser holding `nonce`. */
  create(nonce: string, subject: string, now = Date.now()): string {
    return `${now}.${this.mac(nonce, subject, now)}`;
  }

  /** Undefined when `token` is good for this cookie nonce and subject; otherwise why not. */
  check(nonce: string | undefined, token: unknown, subject: string, now = Date.now()): CsrfRefusal | undefined {
    if (!nonce) return 'no-cookie';
    if (typeof token !== 'string' || token === '') return 'no-token';
    const match = /^(\d{13})\.([A-Za-z0-9_-]{43})$/.exec(token);
    if (!match) return 'malformed';
    const issuedAt = Number(match[1]);
    const given = Buffer.from(match[2] as string);
    const expected = Buffer.from(this.mac(nonce, subject, issuedAt));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'mismatch';
    // Checked after the MAC: an attacker cannot learn anything from the age of a token he made up.
    if (issuedAt > now + 60_000 || now - issuedAt > CSRF_TOKEN_MAX_AGE_MS) return 'expired';
    return undefined;
  }

  private mac(nonce: string, subject: string, issuedAt: number): string {
    // Lengths first: no two (nonce, subject) pairs serialize to the same bytes.
    return createHmac('sha256', this.key).update(`csrf:${nonce.length}:${nonce}:${subject.length}:${subject}:${issuedAt}`).digest('base64url');
  }
}
