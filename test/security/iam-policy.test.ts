import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The worker's IAM policy must grant exactly what the activities can call: a missing action breaks a
 * decommission mid-way, an extra one is privilege nobody reviewed.
 */
const root = path.resolve(__dirname, '..', '..');

function actionsCalledByActivities(): string[] {
  const dir = path.join(root, 'src', 'activities');
  const actions = new Set<string>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const source = readFileSync(path.join(dir, file), 'utf8');
    for (const match of source.matchAll(/new (\w+)Command\(/g)) actions.add(`kms:${match[1]}`);
  }
  return [...actions].sort();
}

function actionsInPolicy(): string[] {
  const policy = JSON.parse(readFileSync(path.join(root, 'iam', 'worker-policy.json'), 'utf8')) as {
    Statement: { Effect: string; Action: string | string[] }[];
  };
  return policy.Statement.filter((s) => s.Effect === 'Allow')
    .flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]))
    .sort();
}

test('the IAM policy allows exactly the KMS actions the activities call', () => {
  const called = actionsCalledByActivities();
  expect(called.length).toBeGreaterThanOrEqual(10);
  expect(actionsInPolicy()).toEqual(called);
});

test('key-changing actions are limited to custom-key-store keys', () => {
  const policy = JSON.parse(readFileSync(path.join(root, 'iam', 'worker-policy.json'), 'utf8')) as {
    Statement: { Action: string[]; Condition?: Record<string, Record<string, unknown>> }[];
  };
  const mutating = policy.Statement.find((s) => s.Action.includes('kms:ScheduleKeyDeletion'));
  expect(mutating?.Condition?.StringEquals?.['kms:KeyOrigin']).toEqual(['AWS_CLOUDHSM', 'EXTERNAL_KEY_STORE']);
});
