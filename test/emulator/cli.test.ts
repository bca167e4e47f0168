/** The `npm run emulator` CLI: flags, validation (exit 2), the single ready line, signals. */
import { CommanderError } from 'commander';
import { ListKeysCommand, KMSClient } from '@aws-sdk/client-kms';
import { parseCli } from '../../src/emulator/main';
import { spawnCli, startCli } from './cli-process';

describe('flag parsing', () => {
  test('maps every flag onto EmulatorOptions', () => {
    expect(
      parseCli([
        '--host',
        '0.0.0.0',
        '--port',
        '4599',
        '--region',
        'eu-central-1',
        '--account',
        '123456789012',
        '--day-ms',
        '1000',
        '--deletion-lag-hours',
        '1.5',
        '--connect-ms',
        '10',
        '--disconnect-ms',
        '20',
        '--quota-scale',
        '0.5',
        '--state',
        '/tmp/x.json',
        '--access-key',
        'AK',
        '--secret-key',
        'SK',
        '--short-pages',
        '--seed',
        '7',
      ]),
    ).toEqual({
      host: '0.0.0.0',
      port: 4599,
      region: 'eu-central-1',
      account: '123456789012',
      dayMs: 1000,
      deletionLagHours: 1.5,
      connectMs: 10,
      disconnectMs: 20,
      quotaScale: 0.5,
      statePath: '/tmp/x.json',
      accessKey: 'AK',
      secretKey: 'SK',
      shortPages: true,
      seed: 7,
    });
  });

  test('defaults', () => {
    expect(parseCli([])).toMatchObject({
      host: '127.0.0.1',
      port: 4599,
      region: 'us-east-1',
      account: '111122223333',
      dayMs: 86_400_000,
      deletionLagHours: 0,
      quotaScale: 1,
      shortPages: false,
    });
  });

  test.each([
    [['--port', '70000'], '--port must be an integer between 0 and 65535'],
    [['--account', '1234'], '--account must be exactly 12 digits'],
    [['--deletion-lag-hours', '25'], '--deletion-lag-hours must be a number between 0 and 24'],
    [['--day-ms', '0'], '--day-ms must be an integer between 1'],
    [['--quota-scale', '-1'], '--quota-scale must be a number between 0'],
    [['--connect-ms', 'soon'], '--connect-ms must be an integer'],
    [['--region', 'Mars'], '--region must look like an AWS region'],
    [['--seed', '1.5'], '--seed must be an integer'],
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

describe('process', () => {
  test('a bad flag exits 2 with a message on stderr', async () => {
    const run = spawnCli(['--account', 'abc']);
    expect(await run.exited).toBe(2);
    expect(run.stderr()).toContain('--account must be exactly 12 digits');
    expect(run.stdout()).toBe('');
  });

  test('--help documents every flag and exits 0', async () => {
    const run = spawnCli(['--help']);
    expect(await run.exited).toBe(0);
    for (const flag of [
      '--host',
      '--port',
      '--region',
      '--account',
      '--day-ms',
      '--deletion-lag-hours',
      '--connect-ms',
      '--disconnect-ms',
      '--quota-scale',
      '--state',
      '--access-key',
      '--secret-key',
      '--short-pages',
      '--seed',
    ]) {
      expect(run.stdout()).toContain(flag);
    }
  });

  test('prints exactly one ready line, serves KMS, and exits 0 on SIGINT', async () => {
    const run = await startCli(['--region', 'eu-west-1', '--account', '210987654321']);
    try {
      expect(run.stdout()).toMatch(/^kms-emulator listening on http:\/\/127\.0\.0\.1:\d+\n$/);
      const kms = new KMSClient({ endpoint: run.url, region: 'eu-west-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });
      expect((await kms.send(new ListKeysCommand({}))).Keys).toEqual([]);
      kms.destroy();
    } finally {
      run.proc.kill('SIGINT');
    }
    expect(await run.exited).toBe(0);
    expect(run.stdout().trim().split('\n')).toHaveLength(1);
  });
});
