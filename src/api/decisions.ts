import type { DecommissionClient, StartResult } from '../client/decommission-client';
import { signDecision, type DecisionSigningKey } from '../decisions/signing';
import { DECISION_SUBJECT_FIELD, withoutSignature, type DecisionKind } from '../shared/decisions';
import { workflowIdFor, type UpdateAck } from '../shared/messages';
import type { ApproveRequest, CancelRequest, DecommissionInput, ResolveRequest } from '../shared/types';
import { InvalidInputError } from '../client/errors';
import type { Identity, Role } from './context';

/** A request as the caller sends it: everything but the identity field and the signature, which the API sets. */
export type StartBody = Omit<DecommissionInput, 'requestedBy' | 'signature'>;
export type ApproveBody = Omit<ApproveRequest, 'approver' | 'signature'>;
export type CancelBody = Omit<CancelRequest, 'by' | 'signature'>;
export type ResolveBody = Omit<ResolveRequest, 'by' | 'signature'>;

/** The role each decision needs. */
export const DECISION_ROLE: Readonly<Record<DecisionKind, Role>> = { start: 'requester', approve: 'approver', cancel: 'operator', resolve: 'operator' };

/** Fields the API sets itself and refuses from a body: the identity fields of every decision, and the signature. */
const API_SET_FIELDS = ['requestedBy', 'approver', 'by', 'signature'] as const;

export interface DecisionServiceOptions {
  client: DecommissionClient;
  /** The API's decision signing key (`DECISION_SIGNING_KEY_FILE`); without it decisions go unsigned. */
  signingKey?: DecisionSigningKey;
  /** Throws an ApiError 403 naming the missing role (the context's `requireRole`). */
  requireRole(identity: Identity, role: Role): void;
}

/**
 * The one path for decisions, used by the JSON routes and the page's forms alike: checks the role, sets the
 * identity field to the verified subject, signs when a key is configured, and calls the client. The client's
 * errors (InvalidInputError, UpdateRejectedError, DecommissionNotFoundError, …) pass through unchanged for
 * the caller to map.
 */
export class DecisionService {
  private readonly client: DecommissionClient;
  private readonly signingKey?: DecisionSigningKey;
  private readonly requireRole: (identity: Identity, role: Role) => void;

  constructor(options: DecisionServiceOptions) {
    this.client = options.client;
    this.signingKey = options.signingKey;
    this.requireRole = options.requireRole;
  }

  /** True when decisions are signed (a signing key is configured). */
  get signs(): boolean {
    return this.signingKey !== undefined;
  }

  /** Starts a decommission (or a dry run) requested by `identity` (role `requester`). */
  async start(identity: Identity, body: StartBody): Promise<StartResult> {
    this.requireRole(identity, DECISION_ROLE.start);
    refuseApiSetFields(body);
    const request = { ...body, requestedBy: identity.subject } as DecommissionInput;
    const workflowId = workflowIdFor(typeof body.customKeyStoreId === 'string' ? body.customKeyStoreId : '');
    return this.client.startDecommission(await this.signed('start', workflowId, identity, request));
  }

  /** Approves the plan of `storeOrWorkflowId` as `identity` (role `approver`); four-eyes is the workflow's, on subjects. */
  async approve(identity: Identity, storeOrWorkflowId: string, body: ApproveBody): Promise<UpdateAck> {
    this.requireRole(identity, DECISION_ROLE.approve);
    refuseApiSetFields(body);
    const request = { ...body, approver: identity.subject } as ApproveRequest;
    return this.client.approve(storeOrWorkflowId, await this.signed('approve', runId(storeOrWorkflowId), identity, request));
  }

  /** Cancels `storeOrWorkflowId` as `identity` (role `operator`). */
  async cancel(identity: Identity, storeOrWorkflowId: string, body: CancelBody): Promise<UpdateAck> {
    this.requireRole(identity, DECISION_ROLE.cancel);
    refuseApiSetFields(body);
    const request = { ...body, by: identity.subject } as CancelRequest;
    return this.client.cancel(storeOrWorkflowId, await this.signed('cancel', runId(storeOrWorkflowId), identity, request));
  }

  /** Resolves the current blocker of `storeOrWorkflowId` as `identity` (role `operator`). */
  async resolve(identity: Identity, storeOrWorkflowId: string, body: ResolveBody): Promise<UpdateAck> {
    this.requireRole(identity, DECISION_ROLE.resolve);
    refuseApiSetFields(body);
    const request = { ...body, by: identity.subject } as ResolveRequest;
    return this.client.resolve(storeOrWorkflowId, await this.signed('resolve', runId(storeOrWorkflowId), identity, request));
  }

  private async signed<T extends object>(kind: DecisionKind, workflowId: string, identity: Identity, request: T): Promise<T> {
    if (!this.signingKey) return request;
    const unsigned = withoutSignature(request) as Record<string, unknown>;
    // The identity field is set above from the subject; asserting it here keeps signing honest if that ever changes.
    if (unsigned[DECISION_SUBJECT_FIELD[kind]] !== identity.subject) throw new Error(`${kind}: ${DECISION_SUBJECT_FIELD[kind]} is not the verified subject`);
    const display = identity.name ?? identity.email;
    const signature = await signDecision(this.signingKey, {
      kind,
      workflowId,
      sub: identity.subject,
      ...(display ? { name: display } : {}),
      request: unsigned,
    });
    return { ...request, signature };
  }
}

/** The workflow ID of a path's store or workflow ID. */
function runId(storeOrWorkflowId: string): string {
  const prefix = workflowIdFor('');
  return storeOrWorkflowId.startsWith(prefix) ? storeOrWorkflowId : workflowIdFor(storeOrWorkflowId);
}

/**
 * Refuses a body that names an identity or carries a signature: the API sets those from the verified token, and
 * silently overwriting them would hide a caller's attempt to act as someone else. Throws the client library's
 * {@link InvalidInputError} (400, `problems` naming each field).
 */
export function refuseApiSetFields(body: object): void {
  const problems = API_SET_FIELDS.filter((field) => Object.prototype.hasOwnProperty.call(body, field)).map((field) => ({
    field,
    rule:
      field === 'signature'
        ? 'is not accepted from the request body: the API signs the decision'
        : 'is not accepted from the request body: the API sets it to your verified identity',
  }));
  if (problems.length > 0) throw new InvalidInputError(problems, 'request');
}
