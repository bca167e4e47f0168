/**
 * Opaque pagination markers. A marker names the operation (and filter) it was issued for and the
 * position to resume from, and is authenticated with a per-state secret, so a marker from another
 * operation, another filter, another emulator instance or after a reset is an InvalidMarkerException —
 * as a foreign marker is for real KMS.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { KmsError } from './errors';

const INVALID_MARKER = 'The request was rejected because the marker that specifies where pagination should next begin is not valid.';

export class MarkerCodec {
  constructor(private secret: string = randomBytes(16).toString('hex')) {}

  get secretValue(): string {
    return this.secret;
  }

  /** New secret: every marker issued so far becomes invalid. */
  rotate(secret: string = randomBytes(16).toString('hex')): void {
    this.secret = secret;
  }

  encode(operation: string, scope: string, position: number): string {
    const payload = Buffer.from(JSON.stringify([operation, scope, position])).toString('base64url');
    return `${payload}.${this.mac(payload)}`;
  }

  /** Position encoded in `marker`; throws InvalidMarkerException when it was not issued for this call. */
  decode(operation: string, scope: string, marker: string): number {
    const dot = marker.lastIndexOf('.');
    if (dot <= 0) throw new KmsError('InvalidMarkerException', INVALID_MARKER);
    const payload = marker.slice(0, dot);
    if (marker.slice(dot + 1) !== this.mac(payload)) throw new KmsError('InvalidMarkerException', INVALID_MARKER);
    let decoded: unknown;
    try {
      decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      throw new KmsError('InvalidMarkerException', INVALID_MARKER);
    }
    if (!Array.isArray(decoded) || decoded[0] !== operation || decoded[1] !== scope || typeof decoded[2] !== 'number') {
      throw new KmsError('InvalidMarkerException', INVALID_MARKER);
    }
    return decoded[2];
  }

  private mac(payload: string): string {
    return createHmac('sha256', this.secret).update(payload).digest('base64url').slice(0, 22);
  }
}

/**
 * Page size actually served. With `shortPages` the emulator returns about half of what was asked for,
 * which KMS is allowed to do (reference §3.1) and which breaks clients that stop on a short page.
 */
export function effectivePageSize(limit: number, shortPages: boolean): number {
  return shortPages ? Math.max(1, Math.floor(limit / 2)) : limit;
}
