import { createHmac, timingSafeEqual } from 'node:crypto';

/** The one-time message the page shows after a form's redirect: the workflow's answer, or its refusal. */
export interface Flash {
  kind: 'ok' | 'error';
  text: string;
}

/** Cookie holding the flash between the POST and the page it redirects to. */
export const FLASH_COOKIE = 'kms_decommission_flash';

/** Longest flash kept: the workflow's refusals are a sentence or two. */
const MAX_TEXT = 1_500;

/** How long a flash waits for its page (the redirect follows at once). */
export const FLASH_MAX_AGE_SECONDS = 60;

interface FlashPayload extends Flash {
  /** The page it is for: a flash never shows on another decommission's page. */
  workflowId: string;
  /** Epoch ms after which it is ignored. */
  until: number;
}

/**
 * Signs and reads flash cookies. Signed so that nobody else (a sibling subdomain setting cookies, say) can
 * make the page claim the workflow said something it did not.
 */
export class FlashCodec {
  constructor(private readonly key: Buffer) {}

  encode(workflowId: string, flash: Flash, now = Date.now()): string {
    const payload: FlashPayload = { ...flash, text: flash.text.slice(0, MAX_TEXT), workflowId, until: now + FLASH_MAX_AGE_SECONDS * 1_000 };
    const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
    return `${body}.${this.mac(body)}`;
  }

  /** The flash in `cookie` for `workflowId`, or undefined when absent, forged, expired or for another page. */
  decode(cookie: string | undefined, workflowId: string, now = Date.now()): Flash | undefined {
    if (!cookie) return undefined;
    const [body, mac] = cookie.split('.');
    if (!body || !mac) return undefined;
    const expected = Buffer.from(this.mac(body));
    const given = Buffer.from(mac);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    try {
      const payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Partial<FlashPayload>;
      if (payload.workflowId !== workflowId || typeof payload.until !== 'number' || payload.until < now) return undefined;
      if ((payload.kind !== 'ok' && payload.kind !== 'error') || typeof payload.text !== 'string') return undefined;
      return { kind: payload.kind, text: payload.text };
    } catch {
      return undefined;
    }
  }

  private mac(body: string): string {
    return createHmac('sha256', this.key).update(`flash:${body}`).digest('base64url');
  }
}
