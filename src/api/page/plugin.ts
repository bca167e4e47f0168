import fastifyFormbody from '@fastify/formbody';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createHmac, randomBytes } from 'node:crypto';
import { DecommissionClient } from '../../client/decommission-client';
import { DecommissionNotFoundError, InvalidInputError, UpdateRejectedError } from '../../client/errors';
import type { UpdateAck } from '../../shared/messages';
import type { Phase } from '../../shared/types';
import { RUNBOOK_ORDER } from '../../workflows/phases';
import { ApiError, type ApiContext, type Identity } from '../context';
import { readCookie, setCookie } from './cookies';
import { CSRF_COOKIE, CsrfTokens } from './csrf';
import { loadDecommissionPage } from './data';
import { renderDecommissionPage } from './decommission-view';
import { renderErrorPage } from './error-view';
import { FLASH_COOKIE, FLASH_MAX_AGE_SECONDS, FlashCodec, type Flash } from './flash';
import { pagePath } from './format';
import { approveBody, cancelBody, formRun, FormError, resolveBody, type FormBody } from './forms';
import { renderToString, type SafeHtml } from './html';
import { CONTENT_SECURITY_POLICY } from './layout';
import { renderListPage } from './list-view';
import type { PageDecision } from './permissions';

/** Options of {@link approvalPages}. */
export interface ApprovalPagesOptions {
  ctx: ApiContext;
  /**
   * Keys the anti-CSRF tokens and the flash cookies (`DECOMMISSION_PAGE_SECRET`, at least 32 characters). Without
   * it a random secret is made at start: forms then fail (403, nothing changed) after a restart or on another
   * replica until the page is reloaded. Never logged.
   */
  secret?: string;
}

/** Most rows the list page shows. */
const LIST_LIMIT = 100;
const MIN_SECRET_LENGTH = 32;

type IdParams = { Params: { id: string } };

/**
 * The approval pages, a Fastify plugin (encapsulated: its cookie, form and CSRF handling and its HTML error
 * pages stay inside it):
 * - `GET /decommissions`: the decommissions, newest first (`?phase=` filters);
 * - `GET /decommissions/:id`: one decommission (`?keys=<offset>` pages its keys), with the Approve, Cancel and
 *   Resolve forms its viewer may use;
 * - `POST /decommissions/:id/approve|cancel|resolve`: the forms, through `ctx.decide` (the JSON API's decision
 *   service) after the identity (`ctx.authenticate`) and the anti-CSRF token are checked; answered with a 303 back
 *   to the page and a flash of the workflow's answer or refusal.
 *
 * @example
 * await app.register(approvalPages, { ctx, secret: process.env.DECOMMISSION_PAGE_SECRET });
 */
export async function approvalPages(app: FastifyInstance, options: ApprovalPagesOptions): Promise<void> {
  const { ctx } = options;
  const secret = pageSecret(app, options.secret);
  const flashes = new FlashCodec(derivedKey(secret, 'flash'));
  /** The verified identity of each request, set by the `authenticate` hook before anything reads it. */
  const identities = new WeakMap<FastifyRequest, Identity>();
  const identityOf = (request: FastifyRequest): Identity => {
    const identity = identities.get(request);
    if (!identity) throw new Error('no verified identity on this request: the authenticate hook did not run');
    return identity;
  };

  const csrf = new CsrfTokens(derivedKey(secret, 'csrf'));
  if (!app.hasContentTypeParser('application/x-www-form-urlencoded')) await app.register(fastifyFormbody);

  async function authenticate(request: FastifyRequest): Promise<void> {
    identities.set(request, await ctx.authenticate(request));
  }

  /** After `authenticate` (the token is bound to the subject) and after the body is parsed (the token is a form field). */
  async function checkCsrf(request: FastifyRequest): Promise<void> {
    const refusal = csrf.check(readCookie(request, CSRF_COOKIE), (request.body as FormBody | undefined)?._csrf, identityOf(request).subject);
    if (refusal) {
      request.log.warn({ refusal }, 'approval page: form refused (anti-CSRF token)');
      throw new CsrfRefusedError();
    }
  }

  /** A token for the page's forms, giving the browser its nonce cookie first if it has none. */
  function csrfTokenFor(request: FastifyRequest, reply: FastifyReply, identity: Identity): string {
    let nonce = readCookie(request, CSRF_COOKIE);
    if (!nonce || !/^[A-Za-z0-9_-]{43}$/.test(nonce)) {
      nonce = CsrfTokens.newNonce();
      setCookie(request, reply, CSRF_COOKIE, nonce, { sameSite: 'Strict' });
    }
    return csrf.create(nonce, identity.subject);
  }

  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'same-origin');
    // Pages carry anti-CSRF tokens and state that changes by the second.
    reply.header('cache-control', 'no-store');
    return payload;
  });

  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    const identity = identities.get(request);
    const back = (request.params as Partial<IdParams['Params']> | undefined)?.id;
    const page = errorPage(error, identity, back ? pagePath(DecommissionClient.workflowId(back)) : undefined);
    if (page.statusCode >= 500) request.log.error({ err: error }, 'approval page failed');
    return sendHtml(reply.code(page.statusCode), page.body);
  });

  app.get<{ Querystring: { phase?: string } }>('/decommissions', { preHandler: authenticate }, async (request, reply) => {
    const phase = request.query.phase || undefined;
    if (phase !== undefined && !RUNBOOK_ORDER.includes(phase as Phase))
      throw new ApiError(400, 'invalid_request', `phase: must be one of ${RUNBOOK_ORDER.join(', ')}, got "${phase.slice(0, 40)}"`);
    const rows = [];
    let truncated = false;
    for await (const row of ctx.client.listDecommissions({ phase: phase as Phase | undefined })) {
      if (rows.length === LIST_LIMIT) {
        truncated = true;
        break;
      }
      rows.push(row);
    }
    return sendHtml(reply, renderListPage({ identity: identityOf(request), rows, phase: phase as Phase | undefined, truncated, now: Date.now() }));
  });

  app.get<IdParams & { Querystring: { keys?: string } }>('/decommissions/:id', { preHandler: authenticate }, async (request, reply) => {
    const identity = identityOf(request);
    const keyOffset = /^\d{1,9}$/.test(request.query.keys ?? '') ? Number(request.query.keys) : 0;
    const data = await loadDecommissionPage(ctx.client, request.params.id, keyOffset);
    const flashCookie = readCookie(request, FLASH_COOKIE);
    const flash = flashes.decode(flashCookie, data.workflowId);
    if (flashCookie !== undefined) setCookie(request, reply, FLASH_COOKIE, '', { sameSite: 'Lax', maxAge: 0 });
    const csrfToken = csrfTokenFor(request, reply, identity);
    return sendHtml(reply, renderDecommissionPage({ data, identity, csrfToken, flash, webUiUrl: ctx.links.webUi(data.workflowId), now: Date.now() }));
  });

  const decisions: Record<PageDecision, (identity: Identity, id: string, body: FormBody) => Promise<UpdateAck>> = {
    approve: (identity, id, body) => ctx.decide.approve(identity, id, approveBody(body), formRun(body)),
    cancel: (identity, id, body) => ctx.decide.cancel(identity, id, cancelBody(body), formRun(body)),
    resolve: (identity, id, body) => ctx.decide.resolve(identity, id, resolveBody(body), formRun(body)),
  };
  for (const [kind, decide] of Object.entries(decisions) as [PageDecision, (typeof decisions)[PageDecision]][]) {
    app.post<IdParams & { Body: FormBody }>(
      `/decommissions/:id/${kind}`,
      // Identity first (401), then the token bound to it (403): a forged form changes nothing.
      { preHandler: [authenticate, checkCsrf] },
      async (request, reply) => {
        const workflowId = DecommissionClient.workflowId(request.params.id);
        const flash = await decisionFlash(kind, () => decide(identityOf(request), workflowId, request.body ?? {}));
        setCookie(request, reply, FLASH_COOKIE, flashes.encode(workflowId, flash), { sameSite: 'Lax', maxAge: FLASH_MAX_AGE_SECONDS });
        return reply.redirect(pagePath(workflowId), 303);
      },
    );
  }
}

/**
 * The workflow's answer to a decision, for the flash. Refusals the person can act on (the workflow's validator,
 * the request's rules) become an error flash; anything else (no role, no run, Temporal down) is thrown to the
 * error page with its status code.
 */
async function decisionFlash(kind: PageDecision, decide: () => Promise<UpdateAck>): Promise<Flash> {
  try {
    return { kind: 'ok', text: (await decide()).message };
  } catch (err) {
    if (err instanceof UpdateRejectedError) return { kind: 'error', text: `${kind} refused by the workflow: ${err.reason}` };
    if (err instanceof InvalidInputError || err instanceof FormError) return { kind: 'error', text: `${kind} not sent: ${err.message}` };
    throw err;
  }
}

function errorPage(error: FastifyError | Error, identity: Identity | undefined, backTo: string | undefined): { statusCode: number; body: SafeHtml } {
  const render = (statusCode: number, title: string, message: string) => ({
    statusCode,
    body: renderErrorPage({ statusCode, title, message, identity, backTo }),
  });
  if (error instanceof ApiError)
    return render(error.statusCode, error.statusCode === 401 ? 'Not signed in' : error.statusCode === 403 ? 'Not allowed' : 'Refused', error.message);
  if (error instanceof DecommissionNotFoundError) return render(404, 'Not found', error.message);
  if (error instanceof CsrfRefusedError)
    return render(
      403,
      'Form expired or forged',
      'The form carried no valid anti-forgery token for you. Nothing was changed: reload the page and decide again.',
    );
  const statusCode = (error as FastifyError).statusCode;
  if (statusCode !== undefined && statusCode >= 400 && statusCode < 500) return render(statusCode, 'Bad request', error.message);
  return render(
    500,
    'Something went wrong',
    'The server could not answer; the error is logged. Reload the decommission to see where it is (a decision sent just now may or may not have reached it).',
  );
}

/** A form without a valid anti-CSRF token for this person and browser. */
class CsrfRefusedError extends Error {
  constructor() {
    super('anti-CSRF token missing or wrong');
    this.name = 'CsrfRefusedError';
  }
}

function sendHtml(reply: FastifyReply, page: SafeHtml): FastifyReply {
  return reply.type('text/html; charset=utf-8').send(renderToString(page));
}

function pageSecret(app: FastifyInstance, configured: string | undefined): string {
  if (configured !== undefined) {
    if (configured.length < MIN_SECRET_LENGTH) throw new Error(`DECOMMISSION_PAGE_SECRET: must be at least ${MIN_SECRET_LENGTH} characters`);
    return configured;
  }
  app.log.warn('approval pages: DECOMMISSION_PAGE_SECRET is not set; using a random secret (forms fail after a restart or on another replica)');
  return randomBytes(32).toString('base64');
}

/** One key per use, so a token of one kind can never pass for the other. */
function derivedKey(secret: string, purpose: 'csrf' | 'flash'): Buffer {
  return createHmac('sha256', secret).update(`kms-decommission-page:${purpose}`).digest();
}
