/**
 * Typed client for ops portals, the operator CLI and tests.
 *
 * @example
 * const client = await DecommissionClient.connect();           // TEMPORAL_ADDRESS etc. from the environment
 * const { workflowId } = await client.startDecommission({ customKeyStoreId: 'cks-1234567890abcdef0', requestedBy: 'alice', ticket: 'CHG-1' });
 * await client.approve('cks-1234567890abcdef0', { approver: 'bob' });
 * console.log((await client.getStatus('cks-1234567890abcdef0')).phase);
 */
export { DecommissionClient, type DecommissionClientOptions, type StartResult, type DecommissionSummary, type StartOptions } from './decommission-client';
export { renderReportMarkdown } from './report-markdown';
export { MIN_QUIET_PERIOD_ENV, minQuietPeriodFromEnv } from './env';
export * from './errors';
export * from '../shared/types';
export { TASK_QUEUE, WORKFLOW_TYPE, workflowIdFor, type UpdateAck } from '../shared/messages';
export { CustomKeyStoreIdAttribute, DecommissionPhaseAttribute, SEARCH_ATTRIBUTE_TYPES } from '../shared/search-attributes';
export { validateDecommissionInput } from '../shared/validation';
export { parseDuration, formatDuration } from '../shared/duration';
