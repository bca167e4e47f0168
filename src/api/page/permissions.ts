import type { DecisionKind } from '../../shared/decisions';
import type { DecommissionStatus } from '../../shared/types';
import { samePerson } from '../../shared/validation';
import { PHASES } from '../../workflows/phases';
import type { Identity } from '../context';
import { DECISION_ROLE, DELETION_RESOLUTIONS } from '../decisions';
import type { ResolveAction } from '../../shared/types';

/** A decision the page can offer: the three a person makes on a running decommission. */
export type PageDecision = Extract<DecisionKind, 'approve' | 'cancel' | 'resolve'>;

/** Whether the page shows a decision's form, and if not, a sentence saying why (shown instead of the form). */
export type Offer = { offered: true } | { offered: false; why: string };

/**
 * Which forms the page shows to `identity` for a run in `status`: the role the decision service will require,
 * and the phase rules the workflow's validators apply. This only decides what to *show*: every POST goes
 * through the decision service (role) and the workflow (phase, four-eyes), which refuse on their own, so a
 * form hidden here can never be the only thing standing between a person and a decision.
 */
export function offers(status: DecommissionStatus, identity: Identity): Record<PageDecision, Offer> {
  return { approve: approveOffer(status, identity), cancel: cancelOffer(status, identity), resolve: resolveOffer(status, identity) };
}

function missingRole(identity: Identity, decision: PageDecision): Offer | undefined {
  const role = DECISION_ROLE[decision];
  return identity.roles.includes(role) ? undefined : { offered: false, why: `${decision} needs the role "${role}"; you have ${rolesText(identity)}` };
}

function rolesText(identity: Identity): string {
  return identity.roles.length ? `${identity.roles.join(', ')}` : 'no role';
}

function approveOffer(status: DecommissionStatus, identity: Identity): Offer {
  if (status.phase !== 'AWAITING_APPROVAL') return { offered: false, why: `approve is only accepted while AWAITING_APPROVAL; this run is ${status.phase}` };
  if (status.approvedBy) return { offered: false, why: `already approved by ${status.approvedBy}` };
  if (status.cancel) return { offered: false, why: `being cancelled by ${status.cancel.by}` };
  const role = missingRole(identity, 'approve');
  if (role) return role;
  // Four-eyes compares verified subjects: the requester field of an API-started run is its requester's subject.
  if (!status.policy?.allowSelfApproval && samePerson(identity.subject, status.requestedBy))
    return { offered: false, why: 'four-eyes: you requested this decommission, so another person must approve it' };
  return { offered: true };
}

function cancelOffer(status: DecommissionStatus, identity: Identity): Offer {
  if (status.cancel) return { offered: false, why: `already cancelled by ${status.cancel.by}` };
  // A blocked run answers as the phase it blocked in (the workflow's validator reads the same table).
  const rule = PHASES[status.previousPhase ?? status.phase].cancel;
  if (!rule.accepted) return { offered: false, why: `cancel is refused in ${status.previousPhase ?? status.phase}: ${rule.reason}` };
  return missingRole(identity, 'cancel') ?? { offered: true };
}

function resolveOffer(status: DecommissionStatus, identity: Identity): Offer {
  if (!status.blocker) return { offered: false, why: 'resolve is only accepted while BLOCKED' };
  const role = missingRole(identity, 'resolve');
  if (role) return role;
  if (resolveActionsFor(status.blocker.allowedActions, identity).length === 0)
    return {
      offered: false,
      why: `${status.blocker.allowedActions.join(', ')} deletes or may orphan key material: it needs the role "approver" too; you have ${rolesText(identity)}`,
    };
  return { offered: true };
}

/** The blocker's actions this person may choose: those that delete or may orphan key material need the approver role too. */
export function resolveActionsFor(actions: readonly ResolveAction[], identity: Identity): ResolveAction[] {
  return actions.filter((a) => !DELETION_RESOLUTIONS.includes(a) || identity.roles.includes('approver'));
}
