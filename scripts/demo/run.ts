/**
 * The demo, step by step: local Temporal (SQLite, Web UI), the KMS emulator (KMS and CloudTrail) seeded
 * with a realistic account in which an application still uses one key of the store, the worker
 * (four-eyes approval policy); then alice asks to retire the CloudHSM store with a short quiet period,
 * the inventory's GetKeyLastUsage shows the recent use, bob's approval must acknowledge it (alice may not
 * approve at all), and the `watch` view follows the run to its end — the quiet period disables the keys,
 * the application fails against its key and the run blocks (KEY_IN_USE), bob proceeds; during the waiting
 * period the store is disconnected behind the workflow's back, the run blocks, and bob reconnects, each
 * blocker answered by its id — and the report (attempted uses, deletion evidence) is printed and checked
 * against the emulator.
 */
import { DescribeCustomKeyStoresCommand, DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { Client, Connection } from '@temporalio/client';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { usageClassesText } from '../../src/cli/format';
import { cliCommand } from '../../src/cli/hints';
import { watchDecommission } from '../../src/cli/watch';
import {
  DecommissionClient,
  renderReportMarkdown,
  UpdateRejectedError,
  workflowIdFor,
  type DecommissionInput,
  type DecommissionReport,
  type DecommissionStatus,
  formatDuration,
  parseDuration,
} from '../../src/client';
import { startDevServer } from '../../src/devtools/temporal-dev-server';
import { EmulatorAdminClient } from '../../src/emulator';
import { spawnChild } from './children';
import { demoOperator, type DemoApplication } from './operator';
import { choosePort } from './ports';
import { describeDemoAccount, seedDemoAccount, type DemoAccount } from './seed';
import type { DemoStack } from './stack';

export interface DemoOptions {
  /** Leave Temporal, the Web UI, the emulator and the worker running after the report. */
  keepRunning: boolean;
  /** Real milliseconds per emulated KMS day. */
  dayMs: number;
  /** KMS waiting period (7–30 days). */
  windowDays: number;
  /** Preferred Temporal gRPC and Web UI ports; free ones are used when these are taken. */
  port: number;
  uiPort: number;
  /** Repository root: children run from here, data goes under `<root>/.data/demo`. */
  root: string;
}

export interface DemoResult {
  report: DecommissionReport;
  workflowUrl: string;
  reportFile: string;
  /** Problems found when checking the emulator after the run; empty when everything is as the report says. */
  problems: string[];
}

const REGION = 'us-east-1';
/** The quiet period ("scream test") of the demo's request: 14 days or more in production. */
const QUIET_PERIOD = '6s';
/** The worker's DECOMMISSION_MIN_QUIET_PERIOD: a deployment against the emulator lowers the 1-day minimum. */
const MIN_QUIET_PERIOD = '1s';
/** How late the emulator's CloudTrail delivers an event (real CloudTrail: typically 5–15 minutes), in ms. */
const CLOUDTRAIL_DELAY_MS = 1_000;
/** The application that still uses a key of the store: who CloudTrail will name, every how often, from where. */
const APP = {
  name: 'payments-settlement',
  everyMs: 2_000,
  // Any 127.x.y.z is a local address on Linux only; elsewhere CloudTrail shows 127.0.0.1.
  sourceAddress: process.platform === 'linux' ? '127.0.0.23' : undefined,
};
/** The emulator's only accepted credentials (its defaults); not a secret. */
const EMULATOR_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

const say = (out: NodeJS.WritableStream, text = '') => out.write(`${text}\n`);

/** The parent environment without AWS_* and TEMPORAL_*: a developer's real credentials, profiles or Temporal Cloud settings must not leak into the demo. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_') && !k.startsWith('TEMPORAL_')));
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw signal.reason;
}

async function pollStatus(
  client: DecommissionClient,
  storeId: string,
  until: (s: DecommissionStatus) => boolean,
  signal: AbortSignal,
): Promise<DecommissionStatus> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    throwIfAborted(signal);
    try {
      const status = await client.getStatus(storeId);
      if (until(status)) return status;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline) throw new Error(`decommission of ${storeId} did not reach the expected phase within 60 s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Starts the emulator's usage simulator on the demo's in-use key and waits for its first successful call, so
 * that the inventory's GetKeyLastUsage already reports it.
 */
async function startApplication(admin: EmulatorAdminClient, keyId: string, signal: AbortSignal): Promise<DemoApplication & { id: string }> {
  const sim = await admin.startUsage({ keyId, everyMs: APP.everyMs, principal: APP.name, operations: ['GenerateDataKey'], sourceAddress: APP.sourceAddress });
  const deadline = Date.now() + 30_000;
  for (;;) {
    throwIfAborted(signal);
    const info = (await admin.usage()).find((u) => u.id === sim.id);
    if ((info?.outcomes.OK ?? 0) > 0) return { id: sim.id, keyId, principalArn: sim.principalArn };
    if (Date.now() > deadline)
      throw new Error(`the usage simulator on ${keyId} made no successful call within 30 s${info?.lastError ? `: ${info.lastError.message}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Runs left by an interrupted demo point at stores of an emulator that no longer exists: end them. */
async function terminateLeftovers(client: DecommissionClient, out: NodeJS.WritableStream): Promise<void> {
  for await (const run of client.listDecommissions({ runningOnly: true })) {
    await client.client.workflow
      .getHandle(run.workflowId)
      .terminate('left running by an earlier demo run; its KMS emulator state is gone')
      .then(() => say(out, `  Terminated ${run.workflowId} (${run.phase ?? 'unknown phase'}), left running by an earlier, interrupted demo`))
      .catch(() => undefined);
  }
}

/** Checks the report against the emulator's own records: what was deleted, what must be untouched. */
async function verifyAgainstEmulator(
  emulatorUrl: string,
  account: DemoAccount,
  report: DecommissionReport,
  app: DemoApplication & { id: string },
): Promise<{ summary: string; problems: string[] }> {
  const problems: string[] = [];
  const admin = new EmulatorAdminClient(emulatorUrl);
  const kms = new KMSClient({ endpoint: emulatorUrl, region: REGION, credentials: EMULATOR_CREDENTIALS });
  try {
    const deletions = new Map((await admin.deletions()).map((d) => [d.keyId, d]));
    const storeKeys = account.cloudHsm.keyIds;
    const deleted = storeKeys.filter((id) => deletions.has(id));
    const orphaned = deleted.filter((id) => deletions.get(id)?.backingKey === 'ORPHANED');
    if (report.outcome !== 'COMPLETED') problems.push(`the decommission ended ${report.outcome}${report.reason ? `: ${report.reason}` : ''}`);
    if (deleted.length !== storeKeys.length) problems.push(`${storeKeys.length - deleted.length} store key(s) were not deleted`);
    if (orphaned.length) problems.push(`${orphaned.length} key(s) left orphaned HSM key material`);

    let storeGone = false;
    try {
      await kms.send(new DescribeCustomKeyStoresCommand({ CustomKeyStoreId: account.cloudHsm.storeId }));
    } catch (err) {
      storeGone = (err as Error).name === 'CustomKeyStoreNotFoundException';
    }
    if (!storeGone) problems.push(`store ${account.cloudHsm.storeId} still exists`);

    const bystanders = [...account.xks.keyIds, ...account.defaultStoreKeyIds];
    const states = await Promise.all(bystanders.map(async (id) => (await kms.send(new DescribeKeyCommand({ KeyId: id }))).KeyMetadata?.KeyState));
    const touched = bystanders.filter((id, i) => states[i] !== 'Enabled' || deletions.has(id));
    if (touched.length) problems.push(`${touched.length} key(s) outside the store changed: ${touched.join(', ')}`);

    // The application's own view: its calls failed once the key was disabled, then pending deletion. The report
    // lists the attempted uses that blocked the run (the caller bob acknowledged may only be counted after that).
    const sim = (await admin.usage()).find((u) => u.id === app.id);
    const failed = (name: string) => sim?.outcomes[name] ?? 0;
    for (const code of ['DisabledException', 'KMSInvalidStateException']) if (failed(code) === 0) problems.push(`the application never got ${code}`);
    const listed = (report.attemptedUses ?? []).filter((u) => u.keyId === app.keyId && u.caller === app.principalArn);
    if (listed.length === 0) problems.push(`the report lists no attempted use by ${app.principalArn} on ${app.keyId}`);
    const found = report.usage?.watch?.findings ?? 0;
    const evidence = report.usage?.deletionEvidence;
    if (!evidence || evidence.found !== deleted.length)
      problems.push(`deletion evidence found for ${evidence?.found ?? 0} of ${deleted.length} deleted key(s)`);

    const summary =
      `${deleted.length}/${storeKeys.length} store keys deleted by KMS (HSM key material deleted: ${deleted.length - orphaned.length}, orphaned: ${orphaned.length}); ` +
      `store ${account.cloudHsm.storeId} ${storeGone ? 'deleted' : 'STILL EXISTS'}; ` +
      `${bystanders.length - touched.length}/${bystanders.length} keys outside the store untouched (Enabled); ` +
      `the application's calls on ${account.cloudHsm.inUse.alias}: ${sim?.outcomes.OK ?? 0} succeeded, ${failed('DisabledException')} DisabledException, ` +
      `${failed('KMSInvalidStateException')} KMSInvalidStateException, ${failed('NotFoundException')} NotFoundException after the deletion; ` +
      `the run's CloudTrail watch found ${found} attempted use(s), ${listed.length} listed in the report`;
    return { summary, problems };
  } finally {
    kms.destroy();
  }
}

export async function runDemo(options: DemoOptions, stack: DemoStack, signal: AbortSignal, out: NodeJS.WritableStream = process.stdout): Promise<DemoResult> {
  const dataDir = path.join(options.root, '.data', 'demo');
  const logDir = path.join(dataDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const rel = (p: string) => path.relative(process.cwd(), p) || '.';

  // ---- infrastructure ----
  const [temporalPort, uiPort] = [await choosePort(options.port), await choosePort(options.uiPort)];
  if (temporalPort.changed) say(out, `Port ${options.port} is in use (another Temporal server or demo?): using ${temporalPort.port} for Temporal instead.`);
  if (uiPort.changed) say(out, `Port ${options.uiPort} is in use: using ${uiPort.port} for the Web UI instead.`);
  say(out, 'Starting the Temporal dev server, the KMS emulator and the worker…');
  const dbFile = path.join(dataDir, 'temporal.db');
  const serverStarting = startDevServer({ ui: true, port: temporalPort.port, uiPort: uiPort.port, dbFilename: dbFile }).then(
    (server) => (stack.server = server),
  );
  stack.serverStarting = serverStarting;
  const emulator = (stack.emulator = spawnChild({
    name: 'KMS emulator',
    script: 'src/emulator/main.ts',
    // Fresh (in-memory) state every run: store IDs are new each time, so re-running always works.
    args: ['--port', '0', '--day-ms', String(options.dayMs), '--region', REGION, '--cloudtrail-delay-ms', String(CLOUDTRAIL_DELAY_MS)],
    env: cleanEnv(),
    cwd: options.root,
    logFile: path.join(logDir, 'emulator.log'),
    ready: /kms-emulator listening on (http:\/\/\S+)/,
    readyTimeoutMs: 60_000,
  }));
  const [server, emulatorReady] = await Promise.all([serverStarting, emulator.ready]);
  throwIfAborted(signal);
  const emulatorUrl = emulatorReady[1];
  const uiBase = `http://localhost:${uiPort.port}`;

  const worker = (stack.worker = spawnChild({
    name: 'worker',
    script: 'src/worker.ts',
    env: {
      ...cleanEnv(),
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_NAMESPACE: 'default',
      // A file that does not exist: envconfig must not pick up a developer's default Temporal profile (e.g. Temporal Cloud).
      TEMPORAL_CONFIG_FILE: path.join(dataDir, 'no-temporal-profile.toml'),
      AWS_ENDPOINT_URL_KMS: emulatorUrl,
      // The emulator answers CloudTrail's LookupEvents on the same URL.
      AWS_ENDPOINT_URL_CLOUDTRAIL: emulatorUrl,
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: EMULATOR_CREDENTIALS.secretAccessKey,
      // The deployment's approval policy, explicit so that a developer's shell cannot relax it: four-eyes.
      DECOMMISSION_REQUIRE_APPROVAL: 'true',
      DECOMMISSION_ALLOW_SELF_APPROVAL: 'false',
      DECOMMISSION_MIN_QUIET_PERIOD: MIN_QUIET_PERIOD,
    },
    cwd: options.root,
    logFile: path.join(logDir, 'worker.log'),
    ready: /worker polling task queue/,
    readyTimeoutMs: 120_000,
  }));
  await worker.ready;
  throwIfAborted(signal);
  say(out, `  Temporal     ${server.address} (SQLite ${rel(dbFile)}), Web UI ${uiBase}`);
  say(
    out,
    `  KMS emulator ${emulatorUrl}, KMS and CloudTrail (1 emulated day = ${options.dayMs / 1000} s; CloudTrail delivers ${CLOUDTRAIL_DELAY_MS / 1000} s late; log ${rel(emulator.logFile)})`,
  );
  say(
    out,
    `  Worker       task queue kms-decommission, approval policy four-eyes, shortest quiet period ${MIN_QUIET_PERIOD} (DECOMMISSION_MIN_QUIET_PERIOD; log ${rel(worker.logFile)})`,
  );

  const died = stack.unexpectedExit();
  const guard = <T>(step: Promise<T>): Promise<T> => Promise.race([step, died]);

  // Never closed explicitly: the demo process exits when it is done, and closing under a pending long poll throws.
  const connection = await Connection.connect({ address: server.address });
  // The client refuses what the worker would: it knows the deployment's shortest quiet period too.
  const client = new DecommissionClient({ client: new Client({ connection, namespace: 'default' }), minimumQuietPeriodMs: parseDuration(MIN_QUIET_PERIOD) });
  await terminateLeftovers(client, out);

  // ---- the account ----
  const admin = new EmulatorAdminClient(emulatorUrl);
  const account = await seedDemoAccount(admin);
  say(out);
  say(out, 'The KMS account (emulated):');
  for (const line of describeDemoAccount(account)) say(out, `  ${line}`);
  const inUse = account.cloudHsm.inUse;
  const app = await guard(startApplication(admin, inUse.keyId, signal));
  say(
    out,
    `  An application still uses ${inUse.alias} (${inUse.keyId}): ${app.principalArn} calls GenerateDataKey every ${APP.everyMs / 1000} s${APP.sourceAddress ? ` from ${APP.sourceAddress}` : ''} (the emulator's usage simulator)`,
  );

  // ---- request, four-eyes approval ----
  const storeId = account.cloudHsm.storeId;
  const input: DecommissionInput = {
    customKeyStoreId: storeId,
    requestedBy: 'alice',
    pendingWindowInDays: options.windowDays,
    ticket: 'CHG-2041',
    expectedKeyCount: account.cloudHsm.keyIds.length,
    quietPeriod: QUIET_PERIOD,
    timing: {
      storePollInterval: '500ms',
      driftCheckInterval: '3s',
      verifyInterval: '1s',
      verifyPatience: '1m',
      connectionCheckInterval: '1s',
      // CloudTrail is searched for attempted use every second, re-reading the last 3 s (the emulator delivers 1 s late).
      usageCheckInterval: '1s',
      cloudTrailDeliveryLag: '3s',
    },
  };
  const workflowUrl = `${uiBase}/namespaces/default/workflows/${workflowIdFor(storeId)}`;
  say(out);
  say(
    out,
    `alice starts the decommission of ${storeId} (ticket CHG-2041): a ${QUIET_PERIOD} quiet period first (every Enabled key disabled, CloudTrail watched for attempted use; 14 days or more in production), then a ${options.windowDays}-day waiting period = ${(options.windowDays * options.dayMs) / 1000} s here.`,
  );
  await client.startDecommission(input);
  say(out, `  Watch it in the Web UI: ${workflowUrl}`);

  const planned = await guard(pollStatus(client, storeId, (s) => s.phase === 'AWAITING_APPROVAL' || s.phase === 'FAILED', signal));
  if (planned.phase === 'FAILED') throw new Error(`the decommission failed before approval: ${planned.lastError ?? 'see the Web UI'}`);
  say(out, `  Inventory: ${planned.counts.inventoried} keys in the store (${planned.scannedKeys} account keys scanned); awaiting approval.`);
  const usage = planned.usage;
  const recentlyUsed = usage?.recentlyUsed ?? 0;
  const early: string[] = [];
  if (usage) {
    say(out, `  Last use (GetKeyLastUsage, ${formatDuration(usage.recentUseWindowMs)} window): ${usageClassesText(usage)}`);
    for (const k of usage.recentKeys)
      say(
        out,
        `    ${k.keyId}${k.keyId === inUse.keyId ? ` (${inUse.alias})` : ''} · ${k.operation ?? 'operation unknown'} · last used ${k.lastUsedAt !== undefined ? new Date(k.lastUsedAt).toISOString() : 'unknown'} · CloudTrail event ${k.cloudTrailEventId ?? 'unknown'}`,
      );
  }
  if (recentlyUsed !== 1 || usage?.recentKeys[0]?.keyId !== inUse.keyId)
    early.push(`GetKeyLastUsage should show exactly ${inUse.keyId} as recently used, got ${recentlyUsed}`);
  // Commands the demo prints run as printed from this clone while the demo's servers are up.
  const cli = cliCommand(server.address === '127.0.0.1:7233' ? {} : { address: server.address });
  try {
    await client.approve(storeId, { approver: 'alice' });
    say(out, '  UNEXPECTED: alice could approve her own request');
  } catch (err) {
    if (!(err instanceof UpdateRejectedError)) throw err;
    say(out, `  alice tries to approve her own request → rejected: ${err.reason}`);
  }
  const comment = 'CAB-77 approved; settlement moves to the new store';
  try {
    await client.approve(storeId, { approver: 'bob', comment });
    early.push('bob could approve without acknowledging the recently used key');
    say(out, '  UNEXPECTED: bob could approve without acknowledging the recently used key');
  } catch (err) {
    if (!(err instanceof UpdateRejectedError)) throw err;
    say(out, `  bob approves without acknowledging the recently used key → rejected: ${err.reason}`);
  }
  say(
    out,
    `  bob approves, acknowledging it: ${cli} approve ${storeId} --approver bob --acknowledge-recently-used-keys ${recentlyUsed} --comment "${comment}"`,
  );
  const ack = await client.approve(storeId, { approver: 'bob', comment, acknowledgeRecentlyUsedKeys: recentlyUsed });
  say(out, `    → ${ack.message}`);
  say(out);

  // ---- the live view, to the end; the operator answers what it shows ----
  const operator = demoOperator(client, admin, storeId, cli, app);
  const report = await guard(watchDecommission(client, storeId, { out, intervalMs: 500, signal, command: cli, onStatus: operator.onStatus }));
  const operatorProblems = await operator.settle();
  const markdown = renderReportMarkdown(report);
  const reportFile = path.join(dataDir, `report-${storeId}.md`);
  writeFileSync(reportFile, markdown);
  say(out);
  say(out, markdown);

  const check = await verifyAgainstEmulator(emulatorUrl, account, report, app);
  const problems = [...early, ...operatorProblems, ...check.problems];
  const resolvedByBob = report.decisions.filter((d) => d.what === 'resolved' && d.by === 'bob').length;
  if (resolvedByBob !== 2) problems.push(`the report records ${resolvedByBob} resolve(s) by bob, not 2 (KEY_IN_USE, STORE_NOT_CONNECTED)`);
  say(out, `Checked against the emulator: ${check.summary}.`);
  for (const problem of problems) say(out, `  PROBLEM: ${problem}`);
  say(out, `Report saved to ${rel(reportFile)}`);
  say(out, `Web UI: ${workflowUrl}`);
  return { report, workflowUrl, reportFile, problems };
}
