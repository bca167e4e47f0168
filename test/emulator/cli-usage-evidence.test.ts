/** CLI flags of the usage-evidence features: tracking start, quotas, principals, CloudTrail delivery, usage simulators. */
import { CloudTrailClient, LookupEventsCommand } from '@aws-sdk/client-cloudtrail';
import { CommanderError } from 'commander';
import { EmulatorAdminClient } from '../../src/emulator';
import { parseCli } from '../../src/emulator/main';
import { spawnCli, startCli } from './cli-process';
import { waitFor } from './helpers';

describe('flag parsing', () => {
  test('maps the new flags onto EmulatorOptions (and adds nothing when they are absent)', () => {
    expect(
      parseCli([
        '--tracking-start',
        '2026-01-01T00:00:00Z',
        '--quota',
        'GetKeyLastUsage=10',
        '--quota',
        'LookupEvents=4',
        '--principal-arn',
        'arn:aws:iam::111122223333:user/operator',
        '--identity',
        'AKIAAPP:app-secret:arn:aws:sts::111122223333:assumed-role/app/s1',
        '--cloudtrail-delay-ms',
        '900000',
        '--cloudtrail-jitter-ms',
        '60000',
        '--cloudtrail-max-events',
        '5000',
        '--usage',
        'key=alias/app,every=500,as=payments-app,ops=Encrypt+Decrypt,from=127.0.0.5,agent=payments/1.0',
        '--usage',
        'key=k2',
      ]),
    ).toMatchObject({
      trackingStartDate: Date.parse('2026-01-01T00:00:00Z'),
      quotaOverrides: { GetKeyLastUsage: 10, LookupEvents: 4 },
      principalArn: 'arn:aws:iam::111122223333:user/operator',
      identities: [{ accessKeyId: 'AKIAAPP', secretAccessKey: 'app-secret', arn: 'arn:aws:sts::111122223333:assumed-role/app/s1' }],
      cloudTrailDelayMs: 900_000,
      cloudTrailDelayJitterMs: 60_000,
      cloudTrailMaxEvents: 5000,
      usage: [
        {
          keyId: 'alias/app',
          everyMs: 500,
          principal: 'payments-app',
          operations: ['Encrypt', 'Decrypt'],
          sourceAddress: '127.0.0.5',
          userAgent: 'payments/1.0',
        },
        { keyId: 'k2' },
      ],
    });
    const plain = parseCli([]) as Record<string, unknown>;
    for (const option of ['trackingStartDate', 'quotaOverrides', 'principalArn', 'identities', 'cloudTrailDelayMs', 'usage'])
      expect(plain).not.toHaveProperty(option);
    expect(parseCli(['--tracking-start', '1767225600000']).trackingStartDate).toBe(1_767_225_600_000);
  });

  test.each([
    [['--tracking-start', 'yesterday'], '--tracking-start must be epoch milliseconds or an ISO 8601 date'],
    [['--quota', 'GetKeyLastUsage'], '--quota must look like <QuotaName>=<requests per second>'],
    [['--quota', 'Bogus=3'], '--quota: quotaOverrides unknown quota Bogus'],
    [
      ['--principal-arn', 'arn:aws:iam::999999999999:user/x'],
      "--principal-arn: principalArn principal ARN arn:aws:iam::999999999999:user/x is not in the emulator's account",
    ],
    [['--identity', 'AKIA:secret'], '--identity must look like <accessKeyId>:<secretAccessKey>:<principal ARN>'],
    [['--cloudtrail-delay-ms', '-5'], '--cloudtrail-delay-ms must be an integer between 0 and 86400000'],
    [['--usage', 'every=100'], '--usage needs key='],
    [['--usage', 'key=k,often=1'], '--usage takes key, every, as, ops, from, agent'],
    [['--usage', 'key=k,every=5'], '--usage: usage[0] everyMs must be an integer between 50'],
  ])('%j is rejected naming the flag and the rule', (args, message) => {
    let error: unknown;
    try {
      parseCli(args);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CommanderError);
    expect((error as Error).message).toContain(message);
  });
});

test('--help documents the new flags; a running CLI serves LookupEvents and runs --usage simulators', async () => {
  const help = spawnCli(['--help']);
  expect(await help.exited).toBe(0);
  for (const flag of [
    '--tracking-start',
    '--quota',
    '--principal-arn',
    '--identity',
    '--cloudtrail-delay-ms',
    '--cloudtrail-jitter-ms',
    '--cloudtrail-max-events',
    '--usage',
  ]) {
    expect(help.stdout()).toContain(flag);
  }

  const run = await startCli(['--quota-scale', '0', '--usage', 'key=alias/cli-app,every=100,as=cli-app']);
  try {
    const admin = new EmulatorAdminClient(run.url);
    await waitFor(async () => (((await admin.usage())[0]?.outcomes.NotFoundException ?? 0) > 0 ? true : undefined), 10_000);
    const trail = new CloudTrailClient({
      endpoint: run.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
    const events = (await trail.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: 'Username', AttributeValue: 'cli-app' }] }))).Events ?? [];
    trail.destroy();
    expect(events.length).toBeGreaterThan(0);
    expect(JSON.parse(events[0].CloudTrailEvent!)).toMatchObject({ eventName: 'Encrypt', errorCode: 'NotFoundException' });
  } finally {
    run.proc.kill('SIGINT');
  }
  expect(await run.exited).toBe(0);
});
