/**
 * The AWS CLI works against the emulator unchanged (SigV4 from botocore, JSON 1.1, timestamps).
 * Needs `aws` on PATH (Debian package `awscli`); without it the test fails in CI and is skipped locally.
 */
import { execFile, execFileSync } from 'node:child_process';
import type { RunningEmulator } from '../../src/emulator';
import { startTestEmulator } from './helpers';

function findAws(): string | undefined {
  try {
    execFileSync('aws', ['--version'], { stdio: 'ignore', timeout: 30_000 });
    return 'aws';
  } catch {
    return undefined;
  }
}

const aws = findAws();

if (!aws && process.env.CI) {
  test('AWS CLI is installed', () => {
    throw new Error('`aws` (Debian package awscli) is not on PATH; it is required in CI for the AWS CLI compatibility check');
  });
}

const maybe = aws ? describe : describe.skip;
if (!aws && !process.env.CI) {
  // Visible reason in the jest output when skipped locally.
  test.skip('AWS CLI checks skipped: `aws` is not on PATH (install the Debian package awscli)', () => undefined);
}

maybe('AWS CLI against the emulator', () => {
  let emu: RunningEmulator;
  let keyId: string;
  let storeId: string;

  beforeAll(async () => {
    emu = await startTestEmulator();
    const seeded = await emu.admin.seed({ stores: [{ name: 'cli-hsm', connectionState: 'CONNECTED' }], keys: [{ count: 2, customKeyStoreId: 'cli-hsm' }] });
    [storeId] = seeded.storeIds;
    [[keyId]] = seeded.keyIds;
  });

  afterAll(async () => {
    await emu.close();
  });

  function cliEnv(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      AWS_ACCESS_KEY_ID: emu.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: emu.credentials.secretAccessKey,
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      AWS_PAGER: '',
    };
    // Ambient profiles or session tokens would override the emulator credentials.
    for (const name of ['AWS_PROFILE', 'AWS_DEFAULT_PROFILE', 'AWS_SESSION_TOKEN', 'AWS_SECURITY_TOKEN']) delete env[name];
    return env;
  }

  function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(
        aws as string,
        ['kms', ...args, '--endpoint-url', emu.url, '--region', emu.region, '--output', 'json'],
        { timeout: 60_000, env: cliEnv() },
        (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  }

  test('list-keys', async () => {
    const out = await run(['list-keys']);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout).Keys.map((k: { KeyId: string }) => k.KeyId)).toContain(keyId);
  });

  test('describe-custom-key-stores', async () => {
    const out = await run(['describe-custom-key-stores', '--custom-key-store-id', storeId]);
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout).CustomKeyStores[0]).toMatchObject({ CustomKeyStoreId: storeId, ConnectionState: 'CONNECTED' });
  });

  test('schedule-key-deletion, and the error path for a second call', async () => {
    const out = await run(['schedule-key-deletion', '--key-id', keyId, '--pending-window-in-days', '7']);
    expect(out.code).toBe(0);
    const parsed = JSON.parse(out.stdout);
    expect(parsed).toMatchObject({ KeyId: `arn:aws:kms:${emu.region}:${emu.account}:key/${keyId}`, KeyState: 'PendingDeletion', PendingWindowInDays: 7 });
    expect(parsed.DeletionDate).toBeDefined();
    const again = await run(['schedule-key-deletion', '--key-id', keyId, '--pending-window-in-days', '7']);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('KMSInvalidStateException');
    expect(again.stderr).toContain('is pending deletion.');
  });
});
