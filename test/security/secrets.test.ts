import { CreateCustomKeyStoreCommand, KMSClient } from '@aws-sdk/client-kms';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startEmulator, type RunningEmulator } from '../../src/emulator';
import { workflowIdFor } from '../../src/shared/messages';
import { temporalAddress } from '../support/harness';
import { runTemporalCli, startWorkerProcess, stopAllProcesses } from '../support/processes';
import { printFigures } from '../reliability/helpers/figures';
import { connectClients } from '../reliability/helpers/temporal';
import { decodedCorpus, sourcesContaining } from './helpers/secret-scan';

/**
 * Secrets must never reach what operators export or ship: the AWS secret key the worker signs with, and
 * the CloudHSM key store password someone gave CreateCustomKeyStore. A full decommission runs with both
 * in play, then every artefact is scanned, base64 payloads decoded: the exported history
 * (`temporal workflow show -o json`), the description with its search attributes and summary, the
 * visibility listing, the report, the worker's stdout/stderr, and the emulator's persisted state.
 */

const ACCESS_KEY = 'AKIASECRETSCANTEST01';
const SECRET = `wJalrXUtnFEMI${randomBytes(12).toString('hex')}`;
const PASSWORD = `HsmPw${randomBytes(8).toString('hex')}`; // 7–32 characters
const TICKET = `CHG-scan-${randomBytes(4).toString('hex')}`;

let dir: string;
let emulator: RunningEmulator | undefined;
let closeClients: (() => Promise<void>) | undefined;

afterAll(async () => {
  await stopAllProcesses();
  await closeClients?.();
  await emulator?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('no secret in exported histories, search attributes, reports, worker logs or the emulator state file', async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'kms-secrets-'));
  const statePath = path.join(dir, 'kms-state.jsonl');
  emulator = await startEmulator({ quotaScale: 0, dayMs: 400, connectMs: 200, disconnectMs: 200, accessKey: ACCESS_KEY, secretKey: SECRET, statePath });
  const em = emulator;

  // A CloudHSM store created the way an administrator would, password included.
  const kms = new KMSClient({ endpoint: em.url, region: em.region, credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET }, maxAttempts: 1 });
  const created = await kms.send(
    new CreateCustomKeyStoreCommand({
      CustomKeyStoreName: `secret-scan-${TICKET}`,
      CloudHsmClusterId: 'cluster-abcdefghijkm',
      TrustAnchorCertificate: '-----BEGIN CERTIFICATE-----\nMIIBsecretscan\n-----END CERTIFICATE-----',
      KeyStorePassword: PASSWORD,
    }),
  );
  kms.destroy();
  const storeId = created.CustomKeyStoreId as string;
  await em.admin.seed({ keys: [{ count: 4, customKeyStoreId: storeId, keyState: 'Enabled', aliasPrefix: `alias/${storeId}` }] });

  const taskQueue = `secrets-${storeId}`;
  const clients = await connectClients(taskQueue);
  closeClients = clients.close;
  const worker = await startWorkerProcess({
    temporalAddress: temporalAddress(),
    taskQueue,
    kmsEndpoint: em.url,
    accessKeyId: ACCESS_KEY,
    secretAccessKey: SECRET,
  });
  await clients.decommissions.startDecommission({
    customKeyStoreId: storeId,
    requestedBy: 'alice',
    ticket: TICKET,
    pendingWindowInDays: 7,
    timing: { storePollInterval: 100, driftCheckInterval: 500, verifyInterval: 200, verifyPatience: '60s' },
  });
  for (;;) {
    const status = await clients.decommissions.getStatus(storeId);
    if (status.phase === 'AWAITING_APPROVAL') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await clients.decommissions.approve(storeId, { approver: 'bob' });
  const report = await clients.decommissions.getReport(storeId, { wait: true });
  expect(report.outcome).toBe('COMPLETED'); // connected the DISCONNECTED store, deleted its keys, deleted it

  const workflowId = workflowIdFor(storeId);
  const address = temporalAddress();
  const show = await runTemporalCli(address, ['workflow', 'show', '--workflow-id', workflowId, '-o', 'json']);
  const describe = await runTemporalCli(address, ['workflow', 'describe', '--workflow-id', workflowId, '-o', 'json']);
  const list = await runTemporalCli(address, ['workflow', 'list', '--query', `KmsCustomKeyStoreId='${storeId}'`, '-o', 'json']);
  const query = await runTemporalCli(address, ['workflow', 'query', '--workflow-id', workflowId, '--name', 'status', '-o', 'json']);
  for (const r of [show, describe, list, query]) expect(r.code).toBe(0);
  const audit = JSON.stringify(await em.admin.audit());
  await worker.kill('SIGTERM');
  await em.close(); // writes the final snapshot
  emulator = undefined;
  const journal = `${statePath}.journal`;

  const sources: Record<string, string> = {
    'workflow show -o json (history)': show.stdout,
    'workflow describe -o json (search attributes, summary, details)': describe.stdout,
    'workflow list -o json (visibility)': list.stdout,
    'status query': query.stdout,
    report: JSON.stringify(report),
    'worker stdout/stderr': worker.output(),
    'emulator audit log': audit,
    'emulator state file': readFileSync(statePath, 'utf8'),
    'emulator journal': existsSync(journal) ? readFileSync(journal, 'utf8') : '',
  };

  // The scanner sees inside payloads: it finds a planted secret in a base64 payload, and the ticket,
  // which travels only inside the history's base64 payloads.
  const planted = JSON.stringify({ payload: { data: Buffer.from(JSON.stringify({ password: PASSWORD })).toString('base64') } });
  expect(sourcesContaining({ planted }, [SECRET, PASSWORD])).toHaveLength(1);
  expect(decodedCorpus(show.stdout)).toContain(TICKET);
  expect(describe.stdout).toContain('DecommissionPhase');
  expect(sources['emulator state file']).toContain(storeId);

  const hits = sourcesContaining(sources, [SECRET, PASSWORD]);
  printFigures('security/secret-scan', {
    sources: Object.keys(sources).length,
    bytesScanned: Object.values(sources).reduce((n, t) => n + t.length, 0),
    secretsSearched: 2,
    hits: hits.length,
  });
  expect(hits).toEqual([]);
}, 120_000);
