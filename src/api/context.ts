import type { FastifyRequest } from 'fastify';
import type { DecommissionClient } from '../client/decommission-client';
import type { DecisionService } from './decisions';

/**
 * What the portal API and the approval page share: who is calling (a verified {@link Identity}), what they may
 * do ({@link Role}), one path for decisions ({@link DecisionService}) and the links shown to people.
 */

/** What a verified identity may do: request a decommission, approve one, or operate one (cancel, resolve). */
export type Role = 'requester' | 'approver' | 'operator';

/** Every role, in the order the documentation lists them. */
export const ROLES: readonly Role[] = ['requester', 'approver', 'operator'];

/** A caller whose token was verified: the subject is the identity four-eyes compares; name and email are for people to read. */
export interface Identity {
  /** The identity provider's `sub`: stable and unique per person, never a display name. */
  subject: string;
  name?: string;
  email?: string;
  roles: Role[];
}

/**
 * An error answered to the caller as `{error: code, message}` with `statusCode`. The message is for people and
 * never carries a token or a key.
 */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The services every route and page handler receives. */
export interface ApiContext {
  client: DecommissionClient;
  /** Verifies the request's token (bearer or the authenticating proxy's header). Throws {@link ApiError} 401 with the reason; never 403. */
  authenticate(request: FastifyRequest): Promise<Identity>;
  /** Throws {@link ApiError} 403 naming the missing role. */
  requireRole(identity: Identity, role: Role): void;
  decide: DecisionService;
  links: { approvalPage(workflowId: string): string; webUi(workflowId: string): string };
}
