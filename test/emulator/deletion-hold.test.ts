/**
 * The deletion hold: a test-only fault-injection knob (admin API only) that simulates KMS lagging longer
 * than the up-to-24 h AWS documents, which `deletionLagHours` cannot (it stays capped at 24). While the
 * hold lasts no key is deleted; keys due meanwhile are deleted at its end, in due order, with the store
 * state of that moment.
 */
import { DescribeKeyCommand, DisconnectCustomKeyStoreCommand, type KMSClient, ScheduleKeyDeletionCommand } from '@aws-sdk/client-kms';
import type { RunningEmulator } from '../../src/emulator';
import { DAY_MS, expectKmsError, useSharedEmulator, withEmulator } from './helpers';

const HOUR_MS = 3_600_000;

let emu: RunningEmulator;
let kms: KMSClient;
let hsm: string;

useSharedEmulator((started, client) => {
  emu = started;
  kms = client;
});

beforeEach(async () => {
  await emu.admin.reset();
  ({
    storeIds: [hsm],
  } = await emu.admin.seed({ stores: [{ name: 'hsm', connectionState: 'CONNECTED' }] }));
});

async function scheduled(count: number): Promise<{ keyIds: string[]; deletionDates: number[] }> {
  const [keyIds] = (await emu.admin.seed({ keys: [{ count, customKeyStoreId: hsm }] })).keyIds;
  const deletionDates: number[] = [];
  for (const k of keyIds) deletionDates.push((await kms.send(new ScheduleKeyDeletionCommand({ KeyId: k, PendingWindowInDays: 7 }))).DeletionDate!.getTime());
  return { keyIds, deletionDates };
}

const stateOf = async (keyId: string) => (await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata?.KeyState;

describe('deletion hold (test-only fault injection)', () => {
  test('keeps keys PendingDeletion 3 days past their DeletionDate, then deletes them at the hold’s end', async () => {
    const {
      keyIds: [k],
      deletionDates: [date],
    } = await scheduled(1);
    const until = date + 3 * DAY_MS;
    expect(await emu.admin.holdDeletions(until)).toEqual({ until });
    await emu.admin.advance(7 * DAY_MS + 71 * HOUR_MS);
    expect(await stateOf(k)).toBe('PendingDeletion');
    expect((await kms.send(new DescribeKeyCommand({ KeyId: k }))).KeyMetadata?.DeletionDate?.getTime()).toBe(date);
    expect(await emu.admin.deletions()).toEqual([]);
    await emu.admin.advance(HOUR_MS);
    await expectKmsError(kms.send(new DescribeKeyCommand({ KeyId: k })), 'NotFoundException');
    expect(await emu.admin.deletions()).toMatchObject([{ keyId: k, time: until, backingKey: 'MATERIAL_DELETED' }]);
  });

  test('keys due after the hold’s end keep their own time; held ones go in due order', async () => {
    const { keyIds, deletionDates } = await scheduled(3);
    await emu.admin.advance(1_000);
    const later = await scheduled(1);
    // Ends before the last key's DeletionDate (scheduled a second later): the hold does not touch that key.
    const until = deletionDates[2] + 500;
    await emu.admin.holdDeletions(until);
    await emu.admin.advance(8 * DAY_MS);
    const events = await emu.admin.deletions();
    expect(events.map((e) => e.keyId)).toEqual([...keyIds, ...later.keyIds]);
    expect(events.map((e) => e.time)).toEqual([until, until, until, later.deletionDates[0]]);
  });

  test('a held deletion sees the store as it is at the hold’s end: disconnected by then → ORPHANED', async () => {
    const {
      keyIds: [k],
      deletionDates: [date],
    } = await scheduled(1);
    await emu.admin.holdDeletions(date + 2 * DAY_MS);
    await emu.admin.advance(7 * DAY_MS + HOUR_MS);
    // Due, but held: the store disconnects (30 s) before the hold ends.
    await kms.send(new DisconnectCustomKeyStoreCommand({ CustomKeyStoreId: hsm }));
    await emu.admin.advance(2 * DAY_MS);
    expect(await emu.admin.deletions()).toMatchObject([{ keyId: k, time: date + 2 * DAY_MS, backingKey: 'ORPHANED', hsmLabel: expect.stringContaining(k) }]);
  });

  test('releaseDeletions deletes what is due at once; reset lifts the hold; GET reports it', async () => {
    const {
      keyIds: [k],
      deletionDates: [date],
    } = await scheduled(1);
    await emu.admin.holdDeletions(date + 30 * DAY_MS);
    expect(await emu.admin.deletionHold()).toEqual({ until: date + 30 * DAY_MS });
    await emu.admin.advance(8 * DAY_MS);
    expect(await stateOf(k)).toBe('PendingDeletion');
    expect(await emu.admin.releaseDeletions()).toEqual({ until: null });
    await expectKmsError(kms.send(new DescribeKeyCommand({ KeyId: k })), 'NotFoundException');
    await emu.admin.holdDeletions(date + 60 * DAY_MS);
    await emu.admin.reset();
    expect(await emu.admin.deletionHold()).toEqual({ until: null });
  });

  test('rejects a hold that is not an epoch-ms number or null, and keeps the previous one', async () => {
    await emu.admin.holdDeletions(5_000);
    for (const body of [{}, { until: -1 }, { until: 'tomorrow' }, { until: true }]) {
      const response = await fetch(`${emu.url}/__admin/deletion-hold`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: string }).error).toMatch(/until/);
    }
    expect(await emu.admin.deletionHold()).toEqual({ until: 5_000 });
  });

  test('deletionLagHours stays the documented 0–24 h; the hold is the only way past it', () =>
    expect(withEmulator({ deletionLagHours: 72 }, async () => undefined)).rejects.toThrow(/deletionLagHours must be a number between 0 and 24/));
});
