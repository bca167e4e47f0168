import type { DecommissionClient, StartResult } from '../client/decommission-client';
import { signDecision, type DecisionSigningKey } from '../decisions/signing';
import { DECISION_SUBJECT_FIELD, withoutSignature, type DecisionKind } from '../shared/decisions';
import { workflowIdFor, type UpdateAck } from '../shared/messages';
import type { ApproveRequest, CancelRequest, DecommissionInput, ResolveAction, ResolveRequest } from '../shared/types';
import { InvalidInputError, UpdateRejectedError } from '../client/errors';
import type { Identity, Role } from './context';

/** A request as the caller sends it: everything but the identity field and the signature, which the API sets. */
export type StartBody = Omit<DecommissionInput, 'requestedBy' | 'signature'>;
export type ApproveBody = Omit<ApproveRequest, 'approver' | 'signature'>;
export type CancelBody = Omit<CancelRequest, 'by' | 'signature'>;
export type ResolveBody = Omit<ResolveRequest, 'by' | 'signature'>;

/** The role each decision needs. */
export const DECISION_ROLE: Readonly<Record<DecisionKind, Role>> = { start: 'requester', approve: 'approver', cancel: 'operator', resolve: 'operator' };

/**
 * Resolutions that delete, or may orphan, key material (the workflow's four-eyes set): an approval in all but
 * name, so they need the approver role, not only the operator's.
 */
export const DELETION_RESOLUTIONS: readonly ResolveAction[] = ['schedule-new-keys', 'reschedule', 'proceed'];

/** Options of a decision about a running decommission. */
export interface DecisionOptions {
  /**
   * The decommission (its `status.firstRunId`) the person saw when they decided, e.g. the approval page's form:
   * if the store's current decommission is another one, the decision is refused rather than applied to it.
   */
  expectedRun?: string;
}

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
  async approve(identity: Identity, storeOrWorkflowId: string, body: ApproveBody, options: DecisionOptions = {}): Promise<UpdateAck> {
    this.requireRole(identity, DECISION_ROLE.approve);
    refuseApiSetFields(body);
    const request = { ...body, approver: identity.subject } as ApproveRequest;
    const run = await this.runFor('approve', storeOrWorkflowId, options);
    return this.client.approve(storeOrWorkflowId, await this.signed('approve', workflowIdOf(storeOrWorkflowId), identity, request, run));
  }

  /** Cancels `storeOrWorkflowId` as `identity` (role `operator`). */
  async cancel(identity: Identity, storeOrWorkflowId: string, body: CancelBody, options: DecisionOptions = {}): Promise<UpdateAck> {
    this.requireRole(identity, DECISION_ROLE.cancel);
    refuseApiSetFields(body);
    const request = { ...body, by: identity.subject } as CancelRequest;
    const run = await this.runFor('cancel', storeOrWorkflowId, options);
    return this.client.cancel(storeOrWorkflowId, await this.signed('cancel', workflowIdOf(storeOrWorkflowId), identity, request, run));
  }

  /** Resolves the current blocker of `storeOrWorkflowId` as `identity` (role `operator`). */
  async resolve(identity: Identity, storeOrWorkflowId: string, body: ResolveBody, options: DecisionOptions = {}): Promise<UpdateAck> {
    this.requireRole(identity, DECISION_ROLE.resolve);
    if (DELETION_RESOLUTIONS.includes(body.action)) this.requireRole(identity, 'approver');
    refuseApiSetFields(body);
    const request = { ...body, by: identity.subject } as ResolveRequest;
    const run = await this.runFor('resolve', storeOrWorkflowId, options);
    return this.client.resolve(storeOrWorkflowId, await this.signed('resolve', workflowIdOf(storeOrWorkflowId), identity, request, run));
  }

  /**
   * The decommission a decision is about: the store's current one (its first run ID), read when the decision is
   * signed or when the caller says which one they saw. A signature names it, so the workflow refuses it in any
   * other decommission of the store; a page showing an older decommission is refused here.
   */
  private async runFor(kind: DecisionKind, storeOrWorkflowId: string, options: DecisionOptions): Promise<string | undefined> {
    if (!this.signingKey && options.expectedRun === undefined) return undefined;
    const { firstRunId } = await this.client.getStatus(storeOrWorkflowId);
    if (options.expectedRun !== undefined && firstRunId !== undefined && firstRunId !== options.expectedRun) {
      throw new UpdateRejectedError(
        kind,
        `the page showed another decommission of this store (run ${options.expectedRun}); the current one is run ${firstRunId}: reload the page and decide on what it shows`,
      );
    }
    return firstRunId;
  }

  /**
   * The request with the API's signature when a key is configured. A decision about an existing run is signed
   * for that decommission (`run`: its first run ID, from {@link runFor}): a store's workflow ID is reused by each
   * of its decommissions, and a signature must not carry over to the next one. A run that reports none (started
   * before 0.4.0, whose recorded policy never requires signatures) gets the request unsigned.
   */
  private async signed<T extends object>(kind: DecisionKind, workflowId: string, identity: Identity, request: T, run?: string): Promise<T> {
    if (!this.signingKey) return request;
    if (kind !== 'start' && !run) return request;
    const unsigned = withoutSignature(request) as Record<string, unknown>;
    // The identity field is set above from the subject; asserting it here keeps signing honest if that ever changes.
    if (unsigned[DECISION_SUBJECT_FIELD[kind]] !== identity.subject) throw new Error(`${kind}: ${DECISION_SUBJECT_FIELD[kind]} is not the verified subject`);
    const display = identity.name ?? identity.email;
    const signature = await signDecision(this.signingKey, {
      kind,
      workflowId,
      ...(run ? { run } : {}),
      sub: identity.subject,
      ...(display ? { name: display } : {}),
      request: unsigned,
    });
    return { ...request, signature };
  }
}

/** The workflow ID of a path's store or workflow ID. */
function workflowIdOf(storeOrWorkflowId: string): string {
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
