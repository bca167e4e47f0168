/**
 * The production stack of docker-compose.yml, started for real without a Docker engine (opt-in:
 * `npm run test:production-stack`, or PRODUCTION_STACK=1 with test/production/jest.config.js):
 *
 * - PostgreSQL from Debian, a throwaway instance with the compose service's superuser and password;
 * - the `temporal-schema` job's script (docker/temporal-schema.sh) with temporal-sql-tool, twice (idempotent);
 * - Temporal Server 1.32.0 built from its Go module, started as the temporalio/server:1.32.0 image starts it
 *   (`temporal-server start`, the server's embedded config template rendered from the compose service's
 *   environment), on loopback ports of its own;
 * - the `temporal-admin-tools` job's script (docker/register-search-attributes.sh) with the Temporal CLI;
 * - the KMS emulator (a separate process, AWS's real request quotas) and the worker from the production image's
 *   files (the Dockerfile's build replayed), with the image's NODE_ENV and NODE_OPTIONS and the compose
 *   worker's environment.
 *
 * One decommission runs end to end with a second person's approval. PostgreSQL is restarted while the run is
 * SCHEDULING and the Temporal server while it is WAITING; the run must complete with every key scheduled exactly
 * once (the emulator's audit log), a complete report and no workflow task failure.
 */
import { Client, Connection } from '@temporalio/client';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { DecommissionClient } from '../../src/client';
import { freePort } from '../../src/devtools/temporal-dev-server';
import { EmulatorAdminClient } from '../../src/emulator';
import { SEARCH_ATTRIBUTE_TYPES } from '../../src/shared/search-attributes';
import { AuditLog, ok, proveScheduledOnce } from '../reliability/helpers/audit';
import { historyStats, waitForPhaseAttr, phaseOf } from '../reliability/helpers/temporal';
import { seedStoreVia, type SeededStore } from '../support/scenario';
import {
  buildProductionImage,
  composeConfig,
  definedEnv,
  ensure,
  freeLowPort,
  jobScript,
  Postgres,
  serverEnvironment,
  sleep,
  startProcess,
  stopAll,
  TemporalServer,
  waitForOutput,
  type BuiltImage,
  type ComposeService,
  type Proc,
  type ServerPorts,
} from './stack';

const enabled = process.env.PRODUCTION_STACK === '1';

/** Keys of the store: about 17 s of ScheduleKeyDeletion at AWS's 15/s (the worker paces at 97 % of it). */
const ENABLED_KEYS = 230;
const DISABLED_KEYS = 20;
/** One emulated day in real ms: the 7-day waiting period lasts 35 s, long enough to restart the server inside it. */
const DAY_MS = 5_000;
/** How long PostgreSQL and the Temporal server stay down. */
const OUTAGE_MS = 3_000;

function figures(label: string, value: unknown): void {
  console.log(`[production-stack] ${label} ${JSON.stringify(value)}`);
}

if (!enabled) {
  test.skip('production stack (opt-in: npm run test:production-stack)', () => undefined);
} else {
  const started = Date.now();
  const work = mkdtempSync(path.join(tmpdir(), 'kms-production-stack-'));
  let postgres: Postgres | undefined;
  let server: TemporalServer | undefined;
  let built: BuiltImage | undefined;
  let connection: Connection | undefined;

  afterAll(async () => {
    await stopAll();
    await connection?.close();
    postgres?.destroy();
    if (built) for (const dir of [built.context, built.image]) rmSync(dir, { recursive: true, force: true });
    if (process.env.PRODUCTION_STACK_KEEP !== '1') rmSync(work, { recursive: true, force: true });
    else console.log(`[production-stack] logs kept in ${work}`);
  });

  test('a full decommission on PostgreSQL + Temporal Server 1.32.0 + the production worker survives a PostgreSQL restart while SCHEDULING and a server restart while WAITING', async () => {
    // ---- tools: cached outside the repository, or taken from the environment
    const pg = ensure('ensure-postgres.sh');
    const tsrv = ensure('ensure-temporal-server.sh');
    const cli = process.env.TEMPORAL_CLI_PATH;
    if (!cli) throw new Error('TEMPORAL_CLI_PATH must be set (scripts/ensure-temporal.sh; npm run test:production-stack does it)');
    // The admin-tools image has `temporal` and `temporal-sql-tool` on PATH; so do the jobs' scripts here.
    const bin = path.join(work, 'bin');
    mkdirSync(bin);
    symlinkSync(cli, path.join(bin, 'temporal'));
    symlinkSync(tsrv.TEMPORAL_SQL_TOOL_PATH, path.join(bin, 'temporal-sql-tool'));
    const jobPath = `${bin}:${process.env.PATH}`;
    figures('tools', { postgres: pg.PG_VERSION, server: spawnSync(tsrv.TEMPORAL_SERVER_PATH, ['--version'], { encoding: 'utf8' }).stdout.trim() });

    // ---- the compose file's own values (production-like: a password from the environment, no .env)
    const services = composeConfig({ POSTGRES_PASSWORD: randomBytes(12).toString('hex'), AWS_REGION: 'us-east-1' });
    const svc = (name: string): ComposeService => services[name];
    expect(svc('temporal').image).toBe('temporalio/server:1.32.0');

    // ---- PostgreSQL (service `postgresql`)
    const pgEnv = definedEnv(svc('postgresql'));
    postgres = new Postgres({
      bindir: pg.PG_BINDIR,
      runAs: pg.PG_RUN_AS,
      port: await freePort(),
      user: pgEnv.POSTGRES_USER,
      password: pgEnv.POSTGRES_PASSWORD,
    });
    postgres.init();
    postgres.start();
    const pgPort = postgres.options.port;

    // ---- the temporal-schema job, twice: `docker compose up` runs it on every start
    const schemaService = svc('temporal-schema');
    const schemaEnv = { ...definedEnv(schemaService), SQL_HOST: '127.0.0.1', SQL_PORT: String(pgPort), TEMPORAL_SCHEMA_DIR: tsrv.TEMPORAL_SCHEMA_DIR };
    expect(definedEnv(schemaService)).toMatchObject({ SQL_PLUGIN: 'postgres12', SQL_HOST: 'postgresql', SQL_PORT: '5432' });
    for (let run = 1; run <= 2; run++) {
      const job = spawnSync('sh', [jobScript(schemaService)], {
        env: { PATH: jobPath, HOME: process.env.HOME, ...schemaEnv },
        encoding: 'utf8',
        timeout: 180_000,
      });
      expect({ run, status: job.status, stderr: job.status === 0 ? '' : job.stderr }).toEqual({ run, status: 0, stderr: '' });
      expect(job.stdout).toMatch(/Temporal schema is up to date/);
    }

    // ---- Temporal Server (service `temporal`), as the image starts it
    const taken = new Set<number>();
    const ports: ServerPorts = {
      frontendGrpc: await freeLowPort(taken),
      frontendHttp: await freeLowPort(taken),
      frontendMembership: await freeLowPort(taken),
      historyGrpc: await freeLowPort(taken),
      historyMembership: await freeLowPort(taken),
      matchingGrpc: await freeLowPort(taken),
      matchingMembership: await freeLowPort(taken),
      workerGrpc: await freeLowPort(taken),
      workerMembership: await freeLowPort(taken),
    };
    const serverDir = path.join(work, 'temporal');
    mkdirSync(serverDir);
    server = new TemporalServer(tsrv.TEMPORAL_SERVER_PATH, serverEnvironment(svc('temporal'), pgPort, ports), serverDir, cli, ports);
    const rendered = server.renderConfig(tsrv.TEMPORAL_CONFIG_TEMPLATE);
    // The rendered configuration: both stores on PostgreSQL (postgres12) through the compose values.
    expect(rendered).toMatch(/defaultStore: default/);
    expect(rendered).toMatch(/visibilityStore: visibility/);
    expect(rendered.match(/pluginName: postgres12/g)).toHaveLength(2);
    expect(rendered).toContain(`connectAddr: 127.0.0.1:${pgPort}`);
    expect(rendered).toMatch(/databaseName: temporal\n/);
    expect(rendered).toMatch(/databaseName: temporal_visibility\n/);
    expect(rendered).toContain(path.join('docker', 'dynamicconfig', 'kms-decommission.yaml'));
    await server.start();
    const address = server.address;
    figures('server-start', { readyS: server.starts[0].readyMs / 1000 });
    // The compose health check of the `temporal` service (busybox wget on the frontend's HTTP port), against this host.
    const check = /http:\/\/\$\$\(hostname\):(\d+)(\/\S+?)"/.exec(svc('temporal').healthcheck?.test.join(' ') ?? '') as RegExpExecArray;
    expect(check[1]).toBe('7243'); // the frontend HTTP port the image's template defaults to (FRONTEND_HTTP_PORT unset in compose)
    const health = await fetch(`http://127.0.0.1:${ports.frontendHttp}${check[2]}`);
    expect(health.status).toBe(200);

    // ---- the temporal-admin-tools job: namespace + search attributes, with the same script
    const adminService = svc('temporal-admin-tools');
    const adminEnv: Record<string, string> = { ...definedEnv(adminService), TEMPORAL_ADDRESS: address };
    const admin = spawnSync('sh', [jobScript(adminService)], {
      env: { PATH: jobPath, HOME: process.env.HOME, ...adminEnv },
      encoding: 'utf8',
      timeout: 180_000,
    });
    expect({ status: admin.status, stderr: admin.stderr }).toEqual({ status: 0, stderr: '' });
    const listed = spawnSync(
      cli,
      ['operator', 'search-attribute', 'list', '--address', address, '--namespace', adminEnv.TEMPORAL_NAMESPACE, '--output', 'json'],
      {
        encoding: 'utf8',
      },
    );
    const custom = (JSON.parse(listed.stdout) as { customAttributes: Record<string, string> }).customAttributes;
    for (const name of Object.keys(SEARCH_ATTRIBUTE_TYPES)) expect({ name, type: custom[name] }).toEqual({ name, type: expect.stringMatching(/KEYWORD/i) });

    // ---- the production image's files (the Dockerfile's build stage, replayed)
    const buildStarted = Date.now();
    built = buildProductionImage();
    figures('image-build', { s: (Date.now() - buildStarted) / 1000 });
    expect(built.env.NODE_ENV).toBe('production');
    expect(built.env.NODE_OPTIONS).toMatch(/--max-old-space-size=/);

    // ---- the KMS emulator, a separate process with AWS's real request quotas (the emulator target's files)
    const accessKey = 'AKIAPRODUCTIONSTACK';
    const secretKey = randomBytes(20).toString('hex');
    const emulator = startProcess(
      'kms-emulator',
      process.execPath,
      [
        'dist/src/emulator/main.js',
        '--port',
        '0',
        '--quota-scale',
        '1',
        '--day-ms',
        String(DAY_MS),
        '--connect-ms',
        '2000',
        '--disconnect-ms',
        '2000',
        '--access-key',
        accessKey,
        '--secret-key',
        secretKey,
      ],
      {
        cwd: built.context,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'production', NODE_NO_WARNINGS: '1' },
        logFile: path.join(work, 'emulator.log'),
      },
    );
    const emulatorUrl = (await waitForOutput(emulator, /kms-emulator listening on (http:\/\/\S+)/))[1];
    const em = new EmulatorAdminClient(emulatorUrl);
    const store: SeededStore = await seedStoreVia(em, { enabled: ENABLED_KEYS, disabled: DISABLED_KEYS, bystanders: 5, aliases: true });
    const keys = new Set(store.keyIds);

    // ---- the worker (service `worker`): the image's CMD, ENV and the compose environment
    const workerService = svc('worker');
    const workerEnv: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...built.env,
      ...definedEnv(workerService),
      TEMPORAL_ADDRESS: address,
      // No developer profile: only the environment configures the worker, as in the container.
      TEMPORAL_CONFIG_FILE: path.join(work, 'no-such-profile.toml'),
      AWS_ACCESS_KEY_ID: accessKey,
      AWS_SECRET_ACCESS_KEY: secretKey,
      AWS_ENDPOINT_URL_KMS: emulatorUrl,
      AWS_ENDPOINT_URL_CLOUDTRAIL: emulatorUrl,
      AWS_EC2_METADATA_DISABLED: 'true',
      // The compose file publishes 9464; a free port here.
      METRICS_PORT: '0',
      METRICS_HOST: '127.0.0.1',
    };
    const [node, ...cmdArgs] = built.cmd;
    expect(node).toBe('node');
    const worker: Proc = startProcess('worker', process.execPath, cmdArgs, { cwd: built.image, env: workerEnv, logFile: path.join(work, 'worker.log') });
    await waitForOutput(worker, /worker polling task queue "([^"]+)"/, 90_000);
    const taskQueue = (await waitForOutput(worker, /worker polling task queue "([^"]+)"/))[1];

    // ---- the decommission: alice requests, bob approves
    connection = await Connection.connect({ address, channelArgs: { 'grpc.max_receive_message_length': 64 << 20 } });
    const temporal = new Client({ connection, namespace: adminEnv.TEMPORAL_NAMESPACE });
    const decommissions = new DecommissionClient({ client: temporal, taskQueue });
    await decommissions.startDecommission({
      customKeyStoreId: store.storeId,
      requestedBy: 'alice',
      pendingWindowInDays: 7,
      ticket: 'CHG-PRODUCTION-STACK',
      timing: { storePollInterval: 500, driftCheckInterval: '10s', verifyInterval: 1_000, verifyPatience: '120s' },
    });
    await waitForPhaseAttr(temporal, store.storeId, ['AWAITING_APPROVAL'], 180_000);
    await decommissions.approve(store.storeId, { approver: 'bob' });

    // ---- PostgreSQL restarted while the run is SCHEDULING
    const audit = new AuditLog(() => em);
    await audit.waitForCount('40 keys scheduled', 40, ok('ScheduleKeyDeletion', keys), 120_000);
    const phaseAtPgStop = await phaseOf(temporal, store.storeId);
    const scheduledAtPgStop = audit.count(ok('ScheduleKeyDeletion', keys));
    const pgDownAt = Date.now();
    postgres.stop();
    await sleep(OUTAGE_MS);
    postgres.start();
    const pgDownMs = Date.now() - pgDownAt;
    await audit.refresh();
    const scheduledAtPgStart = audit.count(ok('ScheduleKeyDeletion', keys));
    expect(phaseAtPgStop).toBe('SCHEDULING');
    expect(scheduledAtPgStart).toBeLessThan(keys.size); // still scheduling when PostgreSQL came back

    // ---- the Temporal server restarted while the run is WAITING
    await waitForPhaseAttr(temporal, store.storeId, ['WAITING'], 180_000);
    const serverDownAt = Date.now();
    const serverExit = await server.stop();
    await sleep(OUTAGE_MS);
    await server.start();
    const serverDownMs = Date.now() - serverDownAt;
    const phaseAfterServerRestart = await phaseOf(temporal, store.storeId);
    expect(phaseAfterServerRestart).toBe('WAITING');

    // ---- the end
    const report = await decommissions.getReport(store.storeId, { wait: true });
    await audit.refresh();
    const proof = proveScheduledOnce(audit.entries, store.keyIds);
    const perKey = new Map<string, number>();
    for (const e of audit.entries) if (ok('ScheduleKeyDeletion')(e) && e.keyId) perKey.set(e.keyId, (perKey.get(e.keyId) ?? 0) + 1);
    const history = await historyStats(temporal, store.storeId);
    figures('run', {
      keys: keys.size,
      scheduledOnce: proof.scheduledOnce,
      duplicates: proof.duplicates.length,
      pendingDeletionRejections: proof.pendingDeletionRejections,
      postgresRestart: { phase: phaseAtPgStop, downS: pgDownMs / 1000, scheduledBefore: scheduledAtPgStop, scheduledWhenBack: scheduledAtPgStart },
      serverRestart: { phase: 'WAITING', downS: serverDownMs / 1000, exit: serverExit, readyS: server.starts.map((s) => s.readyMs / 1000) },
      activityRetries: history.retriedByType,
      workflowTaskFailures: history.workflowTaskFailures,
      events: history.events,
      outcome: report.outcome,
      workerAlive: worker.alive(),
      wallS: (Date.now() - started) / 1000,
    });

    expect(report.outcome).toBe('COMPLETED');
    // Every key of the store scheduled exactly once (emulator audit: one ScheduleKeyDeletion answered OK per key).
    expect(proof.duplicates).toEqual([]);
    expect(proof.missing).toEqual([]);
    expect(proof.unexpected).toEqual([]);
    expect([...keys].filter((k) => perKey.get(k) !== 1)).toEqual([]);
    // The report is complete: every key, scheduled by this run, confirmed deleted.
    expect(report.keyCount).toBe(keys.size);
    expect(report.keys).toHaveLength(keys.size);
    expect(new Set(report.keys.map((k) => k.keyId))).toEqual(keys);
    expect(report.keys.filter((k) => k.scheduledBy !== 'this-run' || k.confirmedDeletedAt === undefined)).toEqual([]);
    expect(report.counts).toMatchObject({ inventoried: keys.size, scheduled: keys.size, deleted: keys.size, remaining: 0, rolledBack: 0 });
    expect(report.decisions.map((d) => d.what)).toEqual(expect.arrayContaining(['requested', 'approved']));
    expect(history.workflowTaskFailures).toBe(0);
    expect(history.finalFailures).toEqual([]);
    // The worker rode out both outages in the same process.
    expect(worker.alive()).toBe(true);
    const deletions = (await em.deletions()).filter((d) => d.customKeyStoreId === store.storeId);
    expect(new Set(deletions.map((d) => d.keyId))).toEqual(keys);
    expect((await worker.stop('SIGTERM')).code).toBe(0);
  }, 1_500_000);
}
