import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { ApproveRequest, CancelRequest, DecommissionStatus, ReportKeysPage, ResolveRequest } from './types';

/** Task queue the worker polls and every decommission runs on. */
export const TASK_QUEUE = 'kms-decommission';

/** Workflow type name, for the Temporal CLI (`--type`). */
export const WORKFLOW_TYPE = 'decommissionCustomKeyStore';

/** One workflow ID per store: Temporal's ID uniqueness is the lock that prevents two decommissions of one store. */
export function workflowIdFor(customKeyStoreId: string): string {
  return `kms-decommission-${customKeyStoreId}`;
}

/** What an accepted update answers. */
export interface UpdateAck {
  accepted: true;
  phase: string;
  message: string;
}

/** Approve the inventoried plan. Rejected unless AWAITING_APPROVAL, or when the approver is the requester (four-eyes). */
export const approveUpdate = defineUpdate<UpdateAck, [ApproveRequest]>('approve');

/** Cancel: before scheduling nothing changes; during scheduling or the wait, the keys this run scheduled are restored. Rejected once DISCONNECTING began. */
export const cancelUpdate = defineUpdate<UpdateAck, [CancelRequest]>('cancel');

/** Decide how a BLOCKED run goes on; the action must be one the blocker allows. */
export const resolveUpdate = defineUpdate<UpdateAck, [ResolveRequest]>('resolve');

/** Current phase, counts, dates, next action, blocker, people and last error. */
export const statusQuery = defineQuery<DecommissionStatus>('status');

/** A page of the per-key report, so that reports of 20,000 keys never need one huge payload. */
export const reportKeysQuery = defineQuery<ReportKeysPage, [{ offset?: number; limit?: number }]>('reportKeys');
