/**
 * What a notification says, rendered once for every sink: a Slack Block Kit body, a plain-text message and a
 * JSON document (the SNS message), and a short subject. Pure: the activity adds the transport.
 *
 * Everything here comes from the workflow's {@link NotificationInput} and the configured link bases, never from
 * a sink's configuration, so no secret (a webhook URL, a credential) can end up in a message.
 */
import type { NotificationInput, NotifiedTransition } from '../shared/notifications';

/** Where people go from a notification; each is omitted when its base URL is not configured. */
export interface NotificationLinks {
  /** The run's approval page in the ops portal. */
  approvalPage?: string;
  /** The run in the Temporal Web UI. */
  webUi?: string;
}

/** The JSON form of a notification (the SNS message for machine subscribers: SQS, Lambda, HTTP). */
export interface NotificationDocument {
  type: 'kms-decommission.notification';
  version: 1;
  key: string;
  workflowId: string;
  customKeyStoreId: string;
  transition: NotifiedTransition;
  summary: string;
  requestedBy: string;
  ticket?: string;
  blocker?: NotificationInput['blocker'];
  /** ISO 8601 (workflow time of the transition). */
  at: string;
  links: NotificationLinks;
}

/** A notification rendered for every sink. */
export interface RenderedNotification {
  input: NotificationInput;
  links: NotificationLinks;
  /** ASCII, at most {@link SUBJECT_MAX_LENGTH} characters (SNS's limit; email subscribers see it). */
  subject: string;
  /** For people: every field, one per line. */
  text: string;
  document: NotificationDocument;
  /** A Slack incoming-webhook body: `text` (fallback and notification preview) and Block Kit `blocks`. */
  slack: { text: string; blocks: SlackBlock[] };
}

/** The subset of Block Kit this module produces. */
export type SlackBlock =
  | { type: 'header'; text: { type: 'plain_text'; text: string } }
  | { type: 'section'; text?: { type: 'mrkdwn'; text: string }; fields?: { type: 'mrkdwn'; text: string }[] }
  | { type: 'context'; elements: { type: 'mrkdwn'; text: string }[] };

/** SNS rejects a longer Subject. */
export const SUBJECT_MAX_LENGTH = 100;
/** Block Kit limits: a header's text, a section's text, a section field. */
const HEADER_MAX = 150;
const SECTION_MAX = 3000;
const FIELD_MAX = 2000;

const TRANSITION_LABEL: Readonly<Record<NotifiedTransition, string>> = {
  AWAITING_APPROVAL: 'awaiting approval',
  BLOCKED: 'blocked, a person must decide',
  COMPLETED: 'completed',
  CANCELLED: 'cancelled',
  FAILED: 'failed',
};

/** The run's approval page: `${portalUrl}/decommissions/${workflowId}`. */
export function approvalPageUrl(portalUrl: string, workflowId: string): string {
  return `${portalUrl.replace(/\/+$/, '')}/decommissions/${encodeURIComponent(workflowId)}`;
}

/** The run in the Temporal Web UI: `${temporalUiUrl}/namespaces/${namespace}/workflows/${workflowId}`. */
export function webUiUrl(temporalUiUrl: string, namespace: string, workflowId: string): string {
  return `${temporalUiUrl.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

/** The links of one run from the configured bases (each omitted when its base is unset). */
export function notificationLinks(bases: { portalUrl?: string; temporalUiUrl?: string }, namespace: string, workflowId: string): NotificationLinks {
  return {
    ...(bases.portalUrl ? { approvalPage: approvalPageUrl(bases.portalUrl, workflowId) } : {}),
    ...(bases.temporalUiUrl ? { webUi: webUiUrl(bases.temporalUiUrl, namespace, workflowId) } : {}),
  };
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * Text from the run (summary, requester, ticket, blocker message) is data, not markup: Slack reads `<…>` as
 * links and mentions (`<!channel>`) and `&` as the start of an entity, so those three are escaped.
 */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A URL inside `<url|label>`: `|` and `>` would end it early. */
function slackLink(url: string, label: string): string {
  return `<${url.replace(/\|/g, '%7C').replace(/</g, '%3C').replace(/>/g, '%3E')}|${label}>`;
}

/** SNS subjects are ASCII without control characters or line breaks, and must begin with a letter, digit or punctuation. */
function asciiSubject(text: string): string {
  const ascii = text.replace(/[^\x20-\x7e]/g, '?').trim();
  return truncate(ascii, SUBJECT_MAX_LENGTH).replace(/…$/, '~');
}

/** Renders a notification for every sink. */
export function renderNotification(input: NotificationInput, links: NotificationLinks): RenderedNotification {
  const label = TRANSITION_LABEL[input.transition];
  const title = `KMS decommission ${label}: ${input.customKeyStoreId}`;
  const at = new Date(input.at).toISOString();
  const { blocker } = input;

  const lines = [
    title,
    input.summary,
    '',
    `Store: ${input.customKeyStoreId}`,
    `Transition: ${input.transition}`,
    `Requested by: ${input.requestedBy}`,
    ...(input.ticket ? [`Ticket: ${input.ticket}`] : []),
    ...(blocker ? [`Blocker: ${blocker.id} (${blocker.kind}): ${blocker.message}`, `Allowed actions: ${blocker.allowedActions.join(', ') || 'none'}`] : []),
    ...(links.approvalPage ? [`Approval page: ${links.approvalPage}`] : []),
    ...(links.webUi ? [`Temporal Web UI: ${links.webUi}`] : []),
    `At: ${at}`,
    `Notification key: ${input.key}`,
  ];

  const fields = [
    `*Store*\n${escapeMrkdwn(input.customKeyStoreId)}`,
    `*Transition*\n${input.transition}`,
    `*Requested by*\n${escapeMrkdwn(input.requestedBy)}`,
    ...(input.ticket ? [`*Ticket*\n${escapeMrkdwn(input.ticket)}`] : []),
  ].map((text) => ({ type: 'mrkdwn' as const, text: truncate(text, FIELD_MAX) }));
  const linkLine = [
    ...(links.approvalPage ? [slackLink(links.approvalPage, 'Open the approval page')] : []),
    ...(links.webUi ? [slackLink(links.webUi, 'The run in the Temporal Web UI')] : []),
  ].join('  ·  ');
  const blocks: SlackBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: truncate(title, HEADER_MAX) } },
    { type: 'section', text: { type: 'mrkdwn', text: truncate(escapeMrkdwn(input.summary), SECTION_MAX) } },
    { type: 'section', fields },
    ...(blocker
      ? [
          {
            type: 'section' as const,
            text: {
              type: 'mrkdwn' as const,
              text: truncate(
                `*Blocker* \`${escapeMrkdwn(blocker.id)}\` (${escapeMrkdwn(blocker.kind)})\n${escapeMrkdwn(blocker.message)}\n*Allowed actions:* ${
                  blocker.allowedActions.map((a) => `\`${escapeMrkdwn(a)}\``).join(', ') || 'none'
                }`,
                SECTION_MAX,
              ),
            },
          },
        ]
      : []),
    ...(linkLine ? [{ type: 'section' as const, text: { type: 'mrkdwn' as const, text: linkLine } }] : []),
    { type: 'context', elements: [{ type: 'mrkdwn', text: truncate(`Notification key \`${escapeMrkdwn(input.key)}\` · ${at}`, SECTION_MAX) }] },
  ];

  return {
    input,
    links,
    subject: asciiSubject(title),
    text: lines.join('\n'),
    document: {
      type: 'kms-decommission.notification',
      version: 1,
      key: input.key,
      workflowId: input.workflowId,
      customKeyStoreId: input.customKeyStoreId,
      transition: input.transition,
      summary: input.summary,
      requestedBy: input.requestedBy,
      ...(input.ticket ? { ticket: input.ticket } : {}),
      ...(blocker ? { blocker } : {}),
      at,
      links,
    },
    slack: { text: truncate(`${escapeMrkdwn(title)}: ${escapeMrkdwn(input.summary)}`, SECTION_MAX), blocks },
  };
}
