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

async function runLoadProcess(spec: LoadSpec): Promise<CeilingMeasurement> {
  const child = fork(path.join(__dirname, 'ceiling-load.ts'), [], {
    execArgv: ['-r', 'ts-node/register/transpile-only'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const answer = await new Promise<{ result?: CeilingMeasurement; error?: string }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { result?: CeilingMeasurement; error?: string }));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`ceiling load process exited with code ${code}`)));
    child.send(spec);
  });
  if (!answer.result) throw new Error(`ceiling measurement failed: ${answer.error}`);
  return answer.result;
}

/**
 * Runs `concurrency` DescribeKey loops for `seconds`, split over `processes` separate client processes
 * (one Node.js process saturates its single JavaScript thread well before the emulator), with the
 * emulator's quotas disabled, then restores `quotaScale`. The rate is the sum over the processes.
 */
export async function measureDescribeCeiling(
  emulator: EmulatorProcess,
  keyIds: readonly string[],
  concurrency: number,
  seconds: number,
  quotaScale: number,
  processes = 1,
): Promise<CeilingMeasurement> {
  await emulator.admin.setQuotaScale(0);
  try {
    const per = Math.ceil(concurrency / processes);
    const results = await Promise.all(
      Array.from({ length: processes }, (_, i) =>
        runLoadProcess({
          url: emulator.url,
          region: EMULATOR_REGION,
          credentials: { ...EMULATOR_CREDENTIALS },
          // Disjoint slices: each process describes its own keys.
          keyIds: keyIds.filter((_, k) => k % processes === i),
          concurrency: per,
          seconds,
        }),
      ),
    );
    return {
      operation: 'DescribeKey',
      concurrency: per * processes,
      processes,
      perSecond: results.reduce((sum, r) => sum + r.perSecond, 0),
      seconds: Math.max(...results.map((r) => r.seconds)),
      p50Ms: Math.max(...results.map((r) => r.p50Ms)),
      p99Ms: Math.max(...results.map((r) => r.p99Ms)),
    };
  } finally {
    await emulator.admin.setQuotaScale(quotaScale);
  }
}
