/** The approval pages: server-rendered HTML for people, in front of the same decision service as the JSON API. */
export { approvalPages, type ApprovalPagesOptions } from './plugin';
