/**
 * The emulator's own DescribeKey ceiling on this machine, with the latency fault on and throttling off:
 * if it is below the DescribeKey quota, no client can reach the quota here, and the inventory target is
 * judged against this ceiling instead.
 */
import { fork } from 'node:child_process';
import path from 'node:path';
import type { LoadSpec } from './ceiling-load';
import type { EmulatorProcess } from './processes';
import { EMULATOR_CREDENTIALS, EMULATOR_REGION } from './processes';
import type { CeilingMeasurement } from './types';

/**
 * Runs `concurrency` DescribeKey loops for `seconds` from a separate client process, with the emulator's
 * quotas disabled, then restores `quotaScale`.
 */
export async function measureDescribeCeiling(
  emulator: EmulatorProcess,
  keyIds: readonly string[],
  concurrency: number,
  seconds: number,
  quotaScale: number,
): Promise<CeilingMeasurement> {
  await emulator.admin.setQuotaScale(0);
  try {
    const spec: LoadSpec = { url: emulator.url, region: EMULATOR_REGION, credentials: { ...EMULATOR_CREDENTIALS }, keyIds: [...keyIds], concurrency, seconds };
    const child = fork(path.join(__dirname, 'ceiling-load.ts'), [], { execArgv: ['-r', 'ts-node/register/transpile-only'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const answer = await new Promise<{ result?: CeilingMeasurement; error?: string }>((resolve, reject) => {
      child.once('message', (m) => resolve(m as { result?: CeilingMeasurement; error?: string }));
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`ceiling load process exited with code ${code}`)));
      child.send(spec);
    });
    if (!answer.result) throw new Error(`ceiling measurement failed: ${answer.error}`);
    return answer.result;
  } finally {
    await emulator.admin.setQuotaScale(quotaScale);
  }
}
