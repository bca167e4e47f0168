import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { type DecommissionStatus, type Phase } from '../../src/client';
import { eventually, startHarness, temporalAddress, type Harness } from '../support/harness';
import { keyState, mutatingCalls, seedStore, type SeededStore } from '../support/scenario';
import { REPO_ROOT } from './cli-process';
import { runbookCommands, type RunbookCommand } from './readme-runbook';

// Runs every command of the README runbook, in order and as printed, from the root of the clone, with a PATH
// that has no `temporal` and no `kms-decommission` on it (as after the quick start), and checks that each one
// does what the README says it does: a command that only works with a tool a fresh clone lacks fails here. A
// command the test does not recognise fails the test: new README commands need an expectation here.

const DAY_MS = 1_000; // the CLI example's 7-day window lasts 7 s; the raw example's 30 days, 30 s
const PLACEHOLDER = /\bcks-[0-9a-f]{17}\b/g;
/**
 * The README's story for its main store: DISCONNECTED, and connecting fails with USER_LOCKED_OUT until the
 * password is fixed (just before `resolve`). Any other placeholder is a plain CONNECTED store.
 */
const CONNECT_FAILS = 'cks-1234567890abcdef0';
/**
 * The README's usage-evidence story: an application still calls one Enabled key of this store (the emulator's
 * usage simulator), so GetKeyLastUsage shows a recent use, and the quiet period's DisabledException blocks the run.
 */
const STILL_USED = 'cks-2468ace02468ace02';
/** The application's principal and source address, as CloudTrail shows them. */
const APP = { principal: 'arn:aws:iam::111122223333:user/payments-settlement', sourceAddress: '127.0.0.23' };

interface CommandResult {
  code: number;
  output: string;
}

interface Sequence {
  /** Placeholder → seeded store. */
  stores: Map<string, SeededStore>;
  /** The store the latest command referred to (list commands name none). */
  current?: SeededStore;
  cwd: string;
}

/** Binaries a fresh clone does not put on PATH: a printed command must not rely on them. */
const NOT_ON_A_CLONES_PATH = ['temporal', 'kms-decommission'];

/** PATH without any directory that holds one of {@link NOT_ON_A_CLONES_PATH}. */
function clonePath(pathValue: string = process.env.PATH ?? ''): string {
  return pathValue
    .split(path.delimiter)
    .filter((dir) => dir !== '' && !NOT_ON_A_CLONES_PATH.some((bin) => existsSync(path.join(dir, bin))))
    .join(path.delimiter);
}

/** How a printed command starts from a clone: `npm run [-s] <script> [-- …]`, with a script package.json has. */
const NPM_RUN = /^npm run (?:-s )?([\w:-]+)(?: --(?: |$)|$)/;
const SCRIPTS = Object.keys((JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts);

/** The command with the clone's `npm run [-s] temporal --` prefix read as the Temporal CLI, for matching what it does. */
const asTemporal = (text: string) => text.replace(/^npm run (?:-s )?temporal -- /, 'temporal ');

let h: Harness;
const written: string[] = [];

beforeAll(async () => {
  h = await startHarness({ emulator: { dayMs: DAY_MS, connectMs: 0, disconnectMs: 0 } });
});

afterAll(async () => {
  await h?.emulator.admin.stopAllUsage().catch(() => undefined);
  await h?.close();
  for (const file of written) rmSync(file, { force: true });
});

function shell(command: string, cwd: string): Promise<CommandResult> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TEMPORAL_ADDRESS: temporalAddress(),
    TASK_QUEUE: h.taskQueue,
    PATH: clonePath(),
  };
  for (const name of ['TEMPORAL_NAMESPACE', 'TEMPORAL_PROFILE', 'TEMPORAL_API_KEY', 'TEMPORAL_TLS']) delete env[name];
  return new Promise((resolve) => {
    execFile('bash', ['-c', command], { cwd, env, timeout: 90_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      if (process.env.RUNBOOK_VERBOSE) process.stderr.write(`$ ${command}\n${stdout}${stderr}(exit ${code})\n\n`);
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

async function storeFor(seq: Sequence, placeholder: string): Promise<SeededStore> {
  let store = seq.stores.get(placeholder);
  if (!store) {
    if (placeholder === CONNECT_FAILS) {
      store = await seedStore(h, { connectionState: 'DISCONNECTED', enabled: 3, disabled: 1 });
      await h.emulator.admin.failNextConnects(store.storeId, { count: 1_000, connectionErrorCode: 'USER_LOCKED_OUT' });
    } else if (placeholder === STILL_USED) {
      store = await seedStore(h, { enabled: 2, disabled: 1 });
      const sim = await h.emulator.admin.startUsage({
        keyId: store.enabled[0] as string,
        everyMs: 250,
        principal: APP.principal,
        sourceAddress: APP.sourceAddress,
      });
      // Used before the inventory: GetKeyLastUsage must already see it.
      await eventually(
        async () => (await h.emulator.admin.usage()).find((u) => u.id === sim.id)?.outcomes.OK ?? 0,
        (ok) => ok > 0,
        10_000,
        'the simulated application to call',
      );
    } else {
      store = await seedStore(h, { enabled: 2, disabled: 1 });
    }
    seq.stores.set(placeholder, store);
  }
  return store;
}

/** The README text with placeholders, address and task queue replaced for this test's servers. */
async function localize(seq: Sequence, command: RunbookCommand): Promise<string> {
  let text = command.text;
  for (const placeholder of new Set(command.text.match(PLACEHOLDER) ?? [])) {
    const store = await storeFor(seq, placeholder);
    seq.current = store;
    text = text.split(placeholder).join(store.storeId);
  }
  return text.replace(/--task-queue kms-decommission\b/g, `--task-queue ${h.taskQueue}`);
}

const status = (store: SeededStore) => h.decommissions.getStatus(store.storeId);

function waitFor(store: SeededStore, phases: Phase[], timeoutMs = 30_000): Promise<DecommissionStatus> {
  return eventually(
    () => status(store),
    (s) => phases.includes(s.phase),
    timeoutMs,
    `phase ${phases.join('|')} of ${store.storeId}`,
  );
}

/** What a command must do, keyed by what it is. Returns a description for the failure message. */
async function check(seq: Sequence, command: RunbookCommand, text: string): Promise<void> {
  const where = `README line ${command.line}: ${text}`;
  const run = () => shell(text, seq.cwd);
  const store = () => {
    if (!seq.current) throw new Error(`${where}: no store referenced yet`);
    return seq.current;
  };
  const succeed = async (): Promise<CommandResult> => {
    const result = await run();
    if (result.code !== 0) throw new Error(`${where}\nexited ${result.code}:\n${result.output}`);
    return result;
  };
  const sub = /^npm run kms-decommission -- (\w+)/.exec(text)?.[1];
  const raw = asTemporal(text);
  const update = /^temporal workflow update execute .*--name (\w+)/.exec(raw)?.[1];
  const listedPhase = /(?:DecommissionPhase='|--phase )([A-Z_]+)/.exec(text)?.[1] as Phase | undefined;

  if (command.expectFailure !== undefined) {
    const before = await status(store());
    const result = await run();
    expect({ where, failed: result.code !== 0 }).toEqual({ where, failed: true });
    expect(result.output).toContain(command.expectFailure);
    expect((await status(store())).phase).toBe(before.phase); // rejected updates change nothing
    expect(await mutatingCalls(h, store())).toEqual([]);
    return;
  }
  if (/^temporal operator search-attribute create /.test(raw)) {
    await succeed();
    return;
  }
  if (/^temporal workflow start /.test(raw) || sub === 'start') {
    await succeed();
    const awaiting = await waitFor(store(), ['AWAITING_APPROVAL']);
    if (seq.stores.get(STILL_USED) === store()) {
      expect(awaiting.usage?.recentlyUsed).toBe(1);
      expect(awaiting.usage?.recentUseWindowMs).toBe(90 * 86_400_000);
    }
    return;
  }
  if (/^temporal workflow query .*--name status/.test(raw) || sub === 'status') {
    const { output } = await succeed();
    const current = await status(store());
    expect(output).toContain(current.phase);
    expect(output).toContain(store().storeId);
    // A blocked run's status names the blocker; the operator CLI prints the resolve command with it.
    if (current.blocker) expect(output).toContain(sub ? `--blocker ${current.blocker.id}` : current.blocker.id);
    if (sub && seq.stores.get(STILL_USED) === store()) {
      // The usage evidence: the recently used key and the approve command that acknowledges it; then the callers.
      if (current.phase === 'AWAITING_APPROVAL') {
        expect(output).toContain(store().enabled[0]);
        expect(output).toContain(`npm run kms-decommission -- approve ${store().storeId} --approver "$USER" --acknowledge-recently-used-keys 1`);
      } else {
        expect(current.blocker?.kind).toBe('KEY_IN_USE');
        for (const shown of [APP.principal, APP.sourceAddress, store().enabled[0], 'DisabledException']) expect(output).toContain(shown);
      }
    }
    if (sub && current.blocker) {
      // The commands it prints must run from a clone too: `npm run kms-decommission -- …`, never a bare binary.
      const printed = output.split('\n').filter((l) => /\bkms-decommission\b.* (resolve|cancel) /.test(l));
      expect(printed.length).toBeGreaterThanOrEqual(1);
      for (const line of printed) {
        expect(line).toMatch(/npm run kms-decommission -- (resolve|cancel) /);
        expect(line).not.toMatch(/(?<!npm run )\bkms-decommission (resolve|cancel) /);
      }
    }
    return;
  }
  if (/^temporal workflow describe /.test(raw)) {
    const { output } = await succeed();
    expect(output).toContain(`Decommission KMS custom key store ${store().storeId}`);
    return;
  }
  if (update === 'approve' || sub === 'approve') {
    await succeed();
    const after = await waitFor(store(), ['BLOCKED', 'QUIET_PERIOD', 'SCHEDULING', 'WAITING']);
    expect(after.approvedBy).toBe('bob');
    if (seq.stores.get(STILL_USED) === store()) {
      // The README's story: at the next check (every minute), the quiet period's DisabledException blocks the run.
      const blocked = await waitFor(store(), ['BLOCKED'], 150_000);
      expect(blocked.previousPhase).toBe('QUIET_PERIOD');
      expect(blocked.blocker).toMatchObject({ id: 'KEY_IN_USE-1', kind: 'KEY_IN_USE', allowedActions: ['proceed'] });
      if (blocked.blocker?.kind === 'KEY_IN_USE')
        expect(blocked.blocker.findings[0]).toMatchObject({ caller: APP.principal, keyId: store().enabled[0], errorCode: 'DisabledException' });
    }
    if (seq.stores.get(CONNECT_FAILS) === store()) {
      const blocked = await waitFor(store(), ['BLOCKED']);
      // The id the README's resolve commands name: the run's first blocker.
      expect(blocked.blocker).toMatchObject({
        id: 'CONNECT_FAILED-1',
        kind: 'CONNECT_FAILED',
        connectionErrorCode: 'USER_LOCKED_OUT',
        allowedActions: expect.arrayContaining(['reconnect']),
      });
    }
    return;
  }
  if (/^temporal workflow list /.test(raw) || sub === 'list') {
    if (!listedPhase) throw new Error(`${where}: list without a phase has no expectation`);
    await waitFor(store(), [listedPhase]);
    // Visibility is eventually consistent: the new phase reaches the list shortly after the change.
    await eventually(succeed, (r) => r.output.includes(`kms-decommission-${store().storeId}`), 20_000, `${where} to list the run`);
    return;
  }
  if (update === 'resolve' || sub === 'resolve') {
    // The README's story: the kmsuser password is fixed before the operator resolves.
    await h.emulator.admin.failNextConnects(store().storeId, { count: 0, connectionErrorCode: 'USER_LOCKED_OUT' });
    await succeed();
    const waiting = await waitFor(store(), ['WAITING', 'VERIFYING', 'DISCONNECTING', 'DELETING', 'COMPLETED']);
    expect(waiting.store?.connectionState).toBe('CONNECTED');
    expect(waiting.counts.scheduled).toBe(store().keyIds.length);
    return;
  }
  if (update === 'cancel' || sub === 'cancel') {
    await succeed();
    const cancelled = await waitFor(store(), ['CANCELLED']);
    // The quiet period scheduled nothing; its rollback re-enabled what it disabled.
    if (seq.stores.get(STILL_USED) !== store()) expect(cancelled.counts.rolledBack).toBe(cancelled.counts.scheduled);
    else expect(cancelled.counts.scheduled).toBe(0);
    for (const id of store().enabled) expect(await keyState(h, id)).toBe('Enabled');
    for (const id of store().disabled) expect(await keyState(h, id)).toBe('Disabled');
    return;
  }
  const history = /^temporal workflow show .*--output json > (\S+)$/.exec(raw)?.[1];
  if (history) {
    written.push(path.join(seq.cwd, history));
    await succeed();
    const events = (JSON.parse(readFileSync(path.join(seq.cwd, history), 'utf8')) as { events: { eventType: string }[] }).events;
    expect(events[0].eventType).toMatch(/WORKFLOW_EXECUTION_STARTED|WorkflowExecutionStarted/);
    expect(events.length).toBeGreaterThan(10);
    return;
  }
  if (sub === 'watch') {
    const { output } = await succeed();
    expect(output).toContain(`COMPLETED: decommission of ${store().storeId}`);
    return;
  }
  if (sub === 'report') {
    const { output } = await succeed();
    const stillUsed = seq.stores.get(STILL_USED) === store();
    expect(output).toContain(`# Decommission of KMS custom key store \`${store().storeId}\`: ${stillUsed ? 'CANCELLED' : 'COMPLETED'}`);
    for (const id of store().keyIds) expect(output).toContain(`key/${id}\``);
    if (stillUsed) {
      expect(output).toContain('### Attempted uses');
      const rows = output.split('\n').filter((l) => l.startsWith('| ') && l.includes('| DisabledException |'));
      expect(rows.some((row) => [store().enabled[0], APP.principal, APP.sourceAddress].every((shown) => row.includes(shown as string)))).toBe(true);
    }
    return;
  }
  throw new Error(`${where}: no expectation for this README command; add one to ${path.basename(__filename)}`);
}

/** README.md and every Markdown file under docs/. */
function markdownFiles(): string[] {
  const docs = path.join(REPO_ROOT, 'docs');
  return [
    path.join(REPO_ROOT, 'README.md'),
    ...readdirSync(docs)
      .filter((f) => f.endsWith('.md'))
      .map((f) => path.join(docs, f)),
  ];
}

async function runSequence(name: string): Promise<RunbookCommand[]> {
  const commands = runbookCommands().filter((c) => c.sequence === name);
  // The root of the clone, where the README's quick start leaves the reader.
  const seq: Sequence = { stores: new Map(), cwd: REPO_ROOT };
  for (const command of commands) await check(seq, command, await localize(seq, command));
  return commands;
}

describe('README runbook', () => {
  test('parses: every runbook command is in a known sequence and uses the documented placeholder', () => {
    const commands = runbookCommands();
    expect(new Set(commands.map((c) => c.sequence))).toEqual(new Set(['runbook', 'runbook-cli']));
    expect(commands.filter((c) => c.text.includes(CONNECT_FAILS)).length).toBeGreaterThan(10);
    // The brief's raw commands are all there, including the negative four-eyes check.
    const raw = commands.filter((c) => c.sequence === 'runbook').map((c) => asTemporal(c.text));
    for (const fragment of [
      'temporal operator search-attribute create --name KmsCustomKeyStoreId --type Keyword --name DecommissionPhase --type Keyword',
      'temporal workflow start --type decommissionCustomKeyStore --task-queue kms-decommission --workflow-id kms-decommission-cks-1234567890abcdef0 --input ',
      '--name approve',
      '--name cancel',
      '--name resolve',
      '"blockerId":"CONNECT_FAILED-1"',
      '--name status',
      "DecommissionPhase='WAITING'",
      'temporal workflow show',
    ]) {
      expect({ fragment, found: raw.some((t) => t.includes(fragment)) }).toEqual({ fragment, found: true });
    }
    expect(commands.some((c) => c.expectFailure === 'Four-eyes rule')).toBe(true);
    // Every resolve, with either CLI, names the blocker it answers.
    const resolves = commands.filter((c) => /--name resolve|kms-decommission -- resolve /.test(c.text));
    expect(resolves.length).toBeGreaterThanOrEqual(2);
    for (const c of resolves)
      expect({ line: c.line, namesBlocker: /"blockerId":"[A-Z_]+-\d+"|--blocker [A-Z_]+-\d+\b/.test(c.text) }).toEqual({
        line: c.line,
        namesBlocker: true,
      });
    // The approval policy is the deployment's: no runbook command tries to set it per request.
    for (const c of commands)
      expect({ line: c.line, setsPolicy: /requireApproval|allowSelfApproval|--no-approval|--allow-self-approval/.test(c.text) }).toEqual({
        line: c.line,
        setsPolicy: false,
      });
  });

  test('every printed command runs from a clone: `npm run <script>` of package.json, no binary a clone lacks', () => {
    for (const c of runbookCommands()) {
      const script = NPM_RUN.exec(c.text)?.[1];
      expect({ line: c.line, text: c.text, script: script && SCRIPTS.includes(script) ? 'known' : script }).toEqual({
        line: c.line,
        text: c.text,
        script: 'known',
      });
    }
    // Anywhere in the README or docs, a shell block line starting with a binary a clone lacks would be run as printed.
    for (const file of markdownFiles()) {
      const lines = readFileSync(file, 'utf8').split('\n');
      let fence: 'shell' | 'other' | undefined;
      lines.forEach((line, i) => {
        if (/^```/.test(line)) fence = fence ? undefined : /^```(sh|bash|shell|console)?(\s+runbook.*)?\s*$/.test(line) ? 'shell' : 'other';
        else if (fence === 'shell') {
          const bare = NOT_ON_A_CLONES_PATH.find((bin) => new RegExp(`^\\s*(\\$ )?${bin} `).test(line));
          const at = `${path.relative(REPO_ROOT, file)}:${i + 1}`;
          expect({ at, bare }).toEqual({ at, bare: undefined });
        }
      });
    }
    // The test's PATH really lacks them (else a bare command would pass here and fail on a clone).
    for (const bin of NOT_ON_A_CLONES_PATH)
      expect(
        clonePath()
          .split(path.delimiter)
          .filter((d) => existsSync(path.join(d, bin))),
      ).toEqual([]);
  });

  test('the README and docs link only to files inside the repository, and each exists', () => {
    for (const file of markdownFiles()) {
      const text = readFileSync(file, 'utf8');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
        if (/^(https?:|mailto:|#)/.test(target)) continue;
        const resolved = path.resolve(path.dirname(file), target.split('#')[0]);
        const where = `${path.relative(REPO_ROOT, file)} → ${target}`;
        expect({ where, inside: !path.relative(REPO_ROOT, resolved).startsWith('..'), exists: existsSync(resolved) }).toEqual({
          where,
          inside: true,
          exists: true,
        });
      }
    }
  });

  test('every Temporal CLI command runs against the dev server and moves the run as documented', async () => {
    const commands = await runSequence('runbook');
    expect(commands.length).toBeGreaterThanOrEqual(11);
  });

  test('every kms-decommission command runs and moves the run as documented', async () => {
    const commands = await runSequence('runbook-cli');
    expect(commands.length).toBeGreaterThanOrEqual(9);
  });
});
