import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * The few cookies the pages use, read and written directly. (@fastify/cookie loads its parser with a dynamic
 * `import()`, which a CommonJS test runner cannot execute; the pages need two cookies, not a framework.)
 */

/** Every page cookie lives under the pages' path. */
export const COOKIE_PATH = '/decommissions';

/** The value of cookie `name` in the request, or undefined. A malformed cookie header reads as absent. */
export function readCookie(request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    try {
      return decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      return undefined;
    }
  }
  return undefined;
}

export interface CookieOptions {
  /** Seconds; 0 deletes the cookie. Absent: a session cookie. */
  maxAge?: number;
  sameSite: 'Strict' | 'Lax';
}

/**
 * Adds a `Set-Cookie` (HttpOnly, on {@link COOKIE_PATH}; `Secure` when the request came over HTTPS, as the
 * proxy in front reports it through Fastify's `trustProxy`). Values must be URL-safe (the pages' are base64url).
 */
export function setCookie(request: FastifyRequest, reply: FastifyReply, name: string, value: string, options: CookieOptions): void {
  const attributes = [`${name}=${encodeURIComponent(value)}`, `Path=${COOKIE_PATH}`, 'HttpOnly', `SameSite=${options.sameSite}`];
  if (options.maxAge !== undefined) attributes.push(`Max-Age=${options.maxAge}`);
  if (request.protocol === 'https') attributes.push('Secure');
  // Fastify appends each `set-cookie` header rather than replacing the previous one.
  reply.header('set-cookie', attributes.join('; '));
}
