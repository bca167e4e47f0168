import type { ResolveAction } from '../../shared/types';
import type { ApproveBody, CancelBody, DecisionOptions, ResolveBody } from '../decisions';

/** A form field that cannot become a request (e.g. a count that is not a number): the page shows it, nothing is sent. */
export class FormError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FormError';
  }
}

/** A urlencoded body as @fastify/formbody parses it: a field sent twice arrives as an array. */
export type FormBody = Record<string, string | string[] | undefined>;

/**
 * One text field: trimmed, empty means absent. Only the fields each form has are read, so a hand-made POST that
 * adds `approver=someone` changes nothing: the decision service sets the identity from the verified token.
 */
function text(body: FormBody, field: string): string | undefined {
  const value = body[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new FormError(`${field}: sent more than once`);
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

/** The decommission the form was rendered for (hidden `run`): a decision is never applied to another one. */
export function formRun(body: FormBody): DecisionOptions {
  const run = text(body, 'run');
  return run !== undefined ? { expectedRun: run } : {};
}

/** The approve form: `comment`, and `acknowledgeRecentlyUsedKeys` when the page asked for it. */
export function approveBody(body: FormBody): ApproveBody {
  const comment = text(body, 'comment');
  const ack = text(body, 'acknowledgeRecentlyUsedKeys');
  if (ack !== undefined && !/^\d{1,9}$/.test(ack)) throw new FormError(`acknowledgeRecentlyUsedKeys: must be a whole number, got "${ack.slice(0, 20)}"`);
  return { ...(comment ? { comment } : {}), ...(ack !== undefined ? { acknowledgeRecentlyUsedKeys: Number(ack) } : {}) };
}

/** The cancel form: `reason` (the client's validation names it when missing). */
export function cancelBody(body: FormBody): CancelBody {
  return { reason: text(body, 'reason') ?? '' };
}

/** The resolve form: `action`, the hidden `blockerId`, and `comment`. The workflow checks the action against the blocker. */
export function resolveBody(body: FormBody): ResolveBody {
  const comment = text(body, 'comment');
  return { action: (text(body, 'action') ?? '') as ResolveAction, blockerId: text(body, 'blockerId') ?? '', ...(comment ? { comment } : {}) };
}
