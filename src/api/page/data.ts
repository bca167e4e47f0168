import type { WorkflowExecutionStatusName } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import { DecommissionClient } from '../../client/decommission-client';
import { DecommissionNotFoundError } from '../../client/errors';
import { reportQuery } from '../../shared/messages';
import type { DecommissionInput, DecommissionReport, DecommissionStatus, ReportKey } from '../../shared/types';

/** Keys per page of the plan's key list. */
export const KEY_PAGE_SIZE = 50;

/** One page of the plan's keys (the workflow's `reportKeys` query). */
export interface KeyPage {
  keys: ReportKey[];
  total: number;
  offset: number;
  limit: number;
  nextOffset?: number;
}

/** Everything the approval page shows about one decommission. */
export interface DecommissionPageData {
  workflowId: string;
  execution: { runId: string; status: WorkflowExecutionStatusName; startTime: Date; closeTime?: Date };
  /** Undefined when the run has no handlers to ask (it failed on its input before registering them). */
  status?: DecommissionStatus;
  keys: KeyPage;
  /** The request as the run was started (waiting period, approval timeout, …); undefined if it could not be read. */
  request?: Partial<DecommissionInput>;
  /** The final report (its decision history) once the run has ended. */
  report?: DecommissionReport;
}

/**
 * Reads what the page shows: the run's description, status, one page of keys, its request and (once ended) its
 * report — without paging through every key or the whole history, so the page costs the same for 20 keys and
 * for 20,000.
 */
export async function loadDecommissionPage(client: DecommissionClient, storeOrWorkflowId: string, keyOffset: number): Promise<DecommissionPageData> {
  const workflowId = DecommissionClient.workflowId(storeOrWorkflowId);
  const handle = client.client.workflow.getHandle(workflowId);
  const description = await handle.describe().catch((err: unknown) => {
    if (err instanceof WorkflowNotFoundError) throw new DecommissionNotFoundError(workflowId);
    throw err;
  });
  const ended = description.status.name !== 'RUNNING';
  const offset = Math.max(0, Math.floor(keyOffset));
  const [status, keys, request, report] = await Promise.all([
    client.getStatus(workflowId).catch(() => undefined),
    client.getReportKeys(workflowId, { offset, limit: KEY_PAGE_SIZE }).catch(() => ({ keys: [], total: 0, nextOffset: undefined })),
    startRequest(client, workflowId, description.runId),
    ended ? handle.query(reportQuery).catch(() => undefined) : Promise.resolve(undefined),
  ]);
  return {
    workflowId,
    execution: { runId: description.runId, status: description.status.name, startTime: description.startTime, closeTime: description.closeTime },
    status,
    keys: { keys: keys.keys, total: keys.total, offset, limit: KEY_PAGE_SIZE, nextOffset: keys.nextOffset },
    request,
    report: report ?? undefined,
  };
}

/**
 * The run's request, from the first event of its history (one event, not the history): the status does not
 * carry the waiting period or the approval timeout. A continued run is started with the same request as its
 * first argument, so the current run's first event always holds it. Undefined when payloads are encoded by a
 * codec (an encrypting deployment): the page then shows what the status says.
 */
async function startRequest(client: DecommissionClient, workflowId: string, runId: string): Promise<Partial<DecommissionInput> | undefined> {
  const temporal = client.client;
  const converter = temporal.options.loadedDataConverter;
  if (converter.payloadCodecs.length > 0) return undefined;
  try {
    const response = await temporal.workflowService.getWorkflowExecutionHistory({
      namespace: temporal.options.namespace,
      execution: { workflowId, runId },
      maximumPageSize: 1,
    });
    const payload = response.history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    const input: unknown = payload ? converter.payloadConverter.fromPayload(payload) : undefined;
    return input && typeof input === 'object' ? (input as Partial<DecommissionInput>) : undefined;
  } catch {
    return undefined;
  }
}
