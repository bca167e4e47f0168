import { sleep } from '@temporalio/workflow';
import {
  PER_KEY_LOOKUP_MAX_KEYS,
  callerKeyPair,
  type AttemptedUse,
  type FindDeletionEvidenceResult,
  type WatchPeriodInput,
  type WatchPeriodResult,
} from '../../shared/usage';
import { formatDuration } from '../../shared/duration';
import { describeFailure } from '../failures';
import { batch, inventory as inventoryStub } from '../activity-stubs';
import { count, iso } from '../render';
import type { Run } from '../run';
import type { UsageState } from '../run-state';

/** Keys per keyLastUsage activity: GetKeyLastUsage is paced under 5/s, so about 200 s each. */
const LAST_USAGE_BATCH = 1_000;
/** Attempted uses kept for the report; the count goes on. */
const ATTEMPTED_KEPT = 100;
/** Event ids remembered to de-duplicate overlapping windows. */
const SEEN_KEPT = 500;
/** Findings shown on a KEY_IN_USE blocker. */
const BLOCKER_FINDINGS = 10;
/** Slice of the DeleteKey lookup per activity: 40 pages of 50 events. */
const EVIDENCE_PAGES = 40;

/** The usage state of a run that gathers usage evidence (callers check {@link Run.usage} first). */
function usageOf(run: Run): UsageState {
  return run.usage as UsageState;
}

/**
 * Last usage at inventory: GetKeyLastUsage of every key of the store, classified against the run's
 * `recentUseWindow`. Before any change, so a failure fails the run closed like the inventory itself.
 */
export async function inventoryLastUsage(run: Run): Promise<void> {
  const usage = usageOf(run);
  const keyIds = run.ledger.all().map((e) => e.keyId);
  const windowMs = run.cfg.recentUseWindowMs as number;
  for (let i = 0; i < keyIds.length; i += LAST_USAGE_BATCH) {
    const slice = keyIds.slice(i, i + LAST_USAGE_BATCH);
    run.progress({ what: `Last usage (GetKeyLastUsage): keys ${count(i + 1)}–${count(i + slice.length)} of ${count(keyIds.length)}` });
    const answers = await inventoryStub.keyLastUsage.executeWithOptions(
      { summary: `Last usage: GetKeyLastUsage of keys ${count(i + 1)}–${count(i + slice.length)} of ${count(keyIds.length)}` },
      [{ keyIds: slice }],
    );
    run.ledger.applyUsage(answers, Date.now(), windowMs);
  }
  usage.checkedAt = Date.now();
  const classes = { USED_RECENTLY: 0, USED_BEFORE_WINDOW: 0, NOT_USED_SINCE_TRACKING: 0, UNKNOWN: 0 };
  const recent: UsageState['recentKeys'] = [];
  for (const e of run.ledger.all()) {
    if (!e.usage) continue;
    classes[e.usage.class]++;
    if (e.usage.class === 'USED_RECENTLY') recent.push({ keyId: e.keyId, ...e.usage });
  }
  usage.classes = classes;
  usage.recentKeys = recent
    .sort((a, b) => (b.lastUsedAt ?? 0) - (a.lastUsedAt ?? 0))
    .slice(0, 20)
    .map(({ keyId, operation, lastUsedAt, cloudTrailEventId }) => ({ keyId, operation, lastUsedAt, cloudTrailEventId }));
  if (classes.USED_RECENTLY > 0) {
    run.state.notes.push(
      `${count(classes.USED_RECENTLY)} key(s) were used within the last ${Math.round(windowMs / 86_400_000)} day(s) (GetKeyLastUsage); the approval had to acknowledge them.`,
    );
  }
  if (classes.UNKNOWN > 0) {
    run.state.notes.push(`${count(classes.UNKNOWN)} key(s) were created before KMS began tracking usage: no recorded use does not prove they were never used.`);
  }
}

/** Keys used within the window: the count an approval must acknowledge (0 for runs without usage evidence). */
export function recentlyUsedCount(run: Run): number {
  return run.usage?.classes.USED_RECENTLY ?? 0;
}

/** Whether this run watches CloudTrail for attempted use (unless an operator turned the watch off after it failed). */
export function watchesUsage(run: Run): boolean {
  return run.usage !== undefined && run.cfg.watchUsage !== false && run.usage.watch.stoppedBy === undefined;
}

/** Starts the attempted-use watch (idempotent): events from `since` on count. */
export function startWatch(run: Run, since: number): void {
  const watch = usageOf(run).watch;
  watch.since ??= since;
  watch.nextCheckAt ??= Date.now() + (run.cfg.timing.usageCheckIntervalMs as number);
}

function describeFinding(f: AttemptedUse): string {
  return `${f.caller}${f.sourceIPAddress ? ` from ${f.sourceIPAddress}` : ''} called ${f.eventName} on ${f.keyId} at ${iso(f.eventTime)} → ${f.errorCode} (event ${f.eventId})`;
}

/** What the `watchPeriod` activity needs to go on with the attempted-use watch (undefined when the run does not watch). */
export function usageWatchInput(run: Run): WatchPeriodInput['usage'] {
  if (!watchesUsage(run)) return undefined;
  const w = usageOf(run).watch;
  const ledger = run.ledger.all();
  const now = Date.now();
  return {
    cursor: {
      since: w.since ?? now,
      ...(w.checkedUntil !== undefined ? { checkedUntil: w.checkedUntil } : {}),
      nextCheckAt: w.nextCheckAt ?? now,
      ...(w.acknowledgedCountedUntil !== undefined ? { acknowledgedCountedUntil: w.acknowledgedCountedUntil } : {}),
      seenEventIds: w.seenEventIds,
    },
    intervalMs: run.cfg.timing.usageCheckIntervalMs as number,
    lagMs: run.cfg.timing.cloudTrailDeliveryLagMs as number,
    acknowledged: w.acknowledged,
    ...(ledger.length <= PER_KEY_LOOKUP_MAX_KEYS ? { keyArns: ledger.map((e) => e.arn) } : {}),
  };
}

/**
 * Takes in what a `watchPeriod` activity's CloudTrail checks did (they run inside it, costing no history), and
 * on KEY_IN_USE blocks the run until an operator cancels (the rollback restores the keys) or resolves `proceed`
 * (four-eyes), which acknowledges those callers on those keys.
 */
export async function applyWatchedUsage(run: Run, seen: WatchPeriodResult, where: string): Promise<void> {
  const progress = seen.usage;
  if (!progress || !run.usage) return;
  const usage = usageOf(run);
  const watch = usage.watch;
  const { cursor } = progress;
  watch.checks += progress.checks;
  watch.lookupCalls += progress.lookupCalls;
  watch.findings += progress.counted;
  watch.checkedUntil = cursor.checkedUntil;
  watch.nextCheckAt = cursor.nextCheckAt;
  watch.acknowledgedCountedUntil = cursor.acknowledgedCountedUntil;
  watch.seenEventIds = cursor.seenEventIds.slice(-SEEN_KEPT);
  run.state.lastError = undefined;
  const intervalMs = run.cfg.timing.usageCheckIntervalMs as number;
  const slowest = progress.slowest;
  if (slowest && slowest.elapsedMs > intervalMs && !watch.slowNoted) {
    // LookupEvents reads 50 events a call at 2 calls/s per account: a busy account outruns an account-wide watch.
    watch.slowNoted = true;
    run.state.notes.push(
      `An attempted-use check took ${formatDuration(slowest.elapsedMs)} (${count(slowest.lookupCalls)} LookupEvents calls, ${count(slowest.eventsRead)} events, ${slowest.strategy}), longer than usageCheckInterval (${formatDuration(intervalMs)}): the account's KMS traffic is too high for the watch to keep up; consider a longer usageCheckInterval, or CloudTrail Lake / an EventBridge rule on the KMS errors instead.`,
    );
  }
  run.publish();
  if (seen.outcome !== 'KEY_IN_USE' || progress.found.length === 0) return;
  // The activity already left acknowledged callers out (before its cap): whatever it found is new.
  const open = progress.found;
  usage.attempted = [...usage.attempted, ...open].sort((a, b) => a.eventTime - b.eventTime).slice(0, ATTEMPTED_KEPT);
  const keys = new Set(open.map((f) => f.keyId));
  const more = progress.foundTotal - open.length;
  const resolution = await run.block({
    kind: 'KEY_IN_USE',
    message: `Something still tries to use ${count(keys.size)} key(s) of the store (${where}): ${open
      .slice(0, 3)
      .map(describeFinding)
      .join(
        '; ',
      )}${open.length > 3 || more > 0 ? `; and ${count(open.length - Math.min(open.length, 3) + more)} more` : ''}. Cancel to restore the keys, or proceed (another person) to delete them anyway.`,
    allowedActions: ['proceed'],
    findings: open.slice(0, BLOCKER_FINDINGS),
    findingCount: open.length + more,
    keyCount: keys.size,
  });
  const pairs = [...new Set(open.map(callerKeyPair))];
  watch.acknowledged = [...new Set([...watch.acknowledged, ...pairs])];
  run.state.notes.push(
    `${resolution.by} decided to proceed although CloudTrail showed attempted use (${resolution.blockerId}): ${pairs
      .slice(0, 5)
      .map((p) => p.replace(' → ', ' on '))
      .join(', ')}${pairs.length > 5 ? ', …' : ''}.`,
  );
}

/**
 * A CloudTrail check failed after its retries (say, access denied). The run does not go on blind: it blocks
 * until an operator retries (after fixing the cause) or proceeds without the watch — a decision to delete
 * keys without that evidence, so four-eyes applies — or cancels.
 */
export async function watchFailed(run: Run, where: string, err: unknown): Promise<void> {
  const error = describeFailure(err);
  run.state.lastError = `attempted-use check: ${error}`;
  const resolution = await run.block({
    kind: 'STEP_FAILED',
    step: 'attempted-use check',
    error,
    message: `The CloudTrail check for attempted use of the store's keys (${where}) failed: ${error}. Retry once the cause is fixed (e.g. the cloudtrail:LookupEvents permission), proceed without the watch (another person), or cancel.`,
    allowedActions: ['retry', 'proceed'],
  });
  if (resolution.action !== 'proceed') return; // retry: the watch starts again with the check that failed
  usageOf(run).watch.stoppedBy = resolution.by;
  run.state.notes.push(
    `${resolution.by} turned the attempted-use watch off after it failed (${resolution.blockerId}: ${error}); no CloudTrail check ran after that.`,
  );
}

/**
 * Deletion evidence: KMS's own DeleteKey event (AwsServiceEvent) for each key confirmed deleted. CloudTrail
 * delivers late, so the lookup repeats until every deleted key has its event or `cloudTrailDeliveryLag` has
 * passed since the last key was confirmed deleted; the report then says for how many keys it was found.
 */
export async function gatherDeletionEvidence(run: Run): Promise<void> {
  const usage = usageOf(run);
  const deleted = run.ledger.all().filter((e) => e.confirmedDeletedAt !== undefined);
  if (deleted.length === 0) return;
  const lag = run.cfg.timing.cloudTrailDeliveryLagMs as number;
  const lastConfirmed = Math.max(...deleted.map((e) => e.confirmedDeletedAt as number));
  const evidence = (usage.evidence ??= { found: 0, of: deleted.length, lookupCalls: 0, done: false });
  if (evidence.done && evidence.of === deleted.length) return;
  evidence.done = false;
  evidence.of = deleted.length;
  evidence.waitUntil = lastConfirmed + lag;
  // KMS deletes a key at (or some hours after) its DeletionDate; the earliest date bounds the window.
  const dates = deleted.map((e) => e.deletionDate ?? run.state.startedAt);
  const windowStart = Math.min(run.state.startedAt, ...dates) - 3_600_000;
  for (;;) {
    const missing = () => deleted.filter((e) => !e.deletionEvidence).length;
    const end = Date.now();
    const start = evidence.scannedUntil === undefined ? windowStart : Math.max(windowStart, evidence.scannedUntil - lag);
    let nextToken: string | undefined;
    do {
      run.progress({ what: `Deletion evidence: CloudTrail DeleteKey events, ${count(deleted.length - missing())} of ${count(deleted.length)} found` });
      let slice: FindDeletionEvidenceResult;
      try {
        slice = await batch.findDeletionEvidence.executeWithOptions(
          { summary: `Deletion evidence: CloudTrail DeleteKey service events ${iso(start)} → ${iso(end)}` },
          [{ customKeyStoreId: run.cfg.customKeyStoreId, startTime: start, endTime: end, nextToken, maxPages: EVIDENCE_PAGES }],
        );
      } catch (err) {
        if (run.isCancelOfThisRun(err)) throw err;
        // Evidence is a record, not a condition: the keys are confirmed deleted by DescribeKey either way.
        evidence.done = true;
        evidence.found = deleted.length - missing();
        run.state.notes.push(
          `Deletion evidence could not be read from CloudTrail (${describeFailure(err)}); found for ${count(evidence.found)} of ${count(evidence.of)} deleted key(s).`,
        );
        return;
      }
      run.ledger.applyEvidence(slice.evidence);
      evidence.lookupCalls += slice.lookupCalls;
      nextToken = slice.nextToken;
    } while (nextToken);
    evidence.scannedUntil = end;
    evidence.found = deleted.length - missing();
    if (missing() === 0 || Date.now() >= evidence.waitUntil) break;
    const wake = Math.min(evidence.waitUntil, Date.now() + Math.max(1_000, Math.round(lag / 4)));
    run.progress({ what: `Deletion evidence: ${count(missing())} DeleteKey event(s) not delivered yet; look again`, at: wake });
    await sleep(Math.max(1, wake - Date.now()), { summary: `Deletion evidence: wait for CloudTrail to deliver ${count(missing())} DeleteKey event(s)` });
  }
  evidence.done = true;
  run.state.notes.push(
    evidence.found === evidence.of
      ? `Deletion evidence: KMS's DeleteKey CloudTrail event was found for all ${count(evidence.of)} deleted key(s).`
      : `Deletion evidence: KMS's DeleteKey CloudTrail event was found for ${count(evidence.found)} of ${count(evidence.of)} deleted key(s) after waiting ${Math.round(lag / 60_000)} min for delivery; the others were confirmed deleted by DescribeKey (NotFoundException) only.`,
  );
  run.publish();
}
