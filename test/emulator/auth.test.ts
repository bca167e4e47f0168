/** SigV4 verification: every request needs a valid signature for the configured credentials. */
import { DescribeCustomKeyStoresCommand, ListKeysCommand } from '@aws-sdk/client-kms';
import type { RunningEmulator } from '../../src/emulator';
import { expectKmsError, kmsClient, rawKms, startTestEmulator } from './helpers';

let emu: RunningEmulator;

beforeAll(async () => {
  emu = await startTestEmulator({ accessKey: 'AKIDEMULATOR', secretKey: 's3cr3t/Key+value' });
});

afterAll(async () => {
  await emu.close();
});

test('the configured credentials are accepted', async () => {
  const kms = kmsClient(emu);
  const out = await kms.send(new ListKeysCommand({}));
  expect(out.Keys).toEqual([]);
  kms.destroy();
});

test('a request without Authorization is MissingAuthenticationTokenException (403)', async () => {
  const res = await rawKms(emu, 'TrentService.ListKeys', '{}', { sign: false });
  expect(res.status).toBe(403);
  expect(JSON.parse(res.body)).toEqual({ __type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' });
  expect(res.headers['x-amzn-requestid']).toBeDefined();
});

test('an unknown access key is UnrecognizedClientException (400)', async () => {
  const kms = kmsClient(emu, { credentials: { accessKeyId: 'AKIDUNKNOWN', secretAccessKey: 's3cr3t/Key+value' } });
  await expectKmsError(kms.send(new ListKeysCommand({})), 'UnrecognizedClientException', 'The security token included in the request is invalid.', 400);
  kms.destroy();
});

test('a wrong secret is InvalidSignatureException (400)', async () => {
  const kms = kmsClient(emu, { credentials: { accessKeyId: 'AKIDEMULATOR', secretAccessKey: 'wrong' } });
  await expectKmsError(
    kms.send(new DescribeCustomKeyStoresCommand({})),
    'InvalidSignatureException',
    /^The request signature we calculated does not match the signature you provided/,
    400,
  );
  kms.destroy();
});

test('a body changed after signing is InvalidSignatureException', async () => {
  const res = await rawKms(emu, 'TrentService.ListKeys', '{"Limit":5}', { sendBody: '{"Limit":6}' });
  expect(res.status).toBe(400);
  expect(JSON.parse(res.body).__type).toBe('InvalidSignatureException');
});

test('a signature for another region is InvalidSignatureException', async () => {
  const kms = kmsClient(emu, { region: 'eu-west-1' });
  await expectKmsError(kms.send(new ListKeysCommand({})), 'InvalidSignatureException', /scoped to a valid region/);
  kms.destroy();
});

test('a signature older than 15 minutes is rejected as expired', async () => {
  const res = await rawKms(emu, 'TrentService.ListKeys', '{}', { signingDate: new Date(Date.now() - 20 * 60_000) });
  expect(res.status).toBe(400);
  expect(JSON.parse(res.body)).toMatchObject({ __type: 'InvalidSignatureException', message: expect.stringMatching(/^Signature expired/) });
});

test('a malformed Authorization header is IncompleteSignatureException', async () => {
  const res = await rawKms(emu, 'TrentService.ListKeys', '{}', {
    sign: false,
    extraHeaders: { authorization: 'AWS4-HMAC-SHA256 Credential=AKIDEMULATOR/20240101/us-east-1/kms/aws4_request' },
  });
  expect(res.status).toBe(400);
  expect(JSON.parse(res.body).__type).toBe('IncompleteSignatureException');
});

test('authentication failures are audited with their outcome and no operation effect', async () => {
  await rawKms(emu, 'TrentService.ListKeys', '{}', { sign: false });
  const entries = await emu.admin.audit({ operation: 'ListKeys' });
  expect(entries.map((e) => e.outcome)).toContain('MissingAuthenticationTokenException');
  expect(entries.find((e) => e.outcome === 'OK')?.accessKeyId).toBe('AKIDEMULATOR');
});
