import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The worker's IAM policy must grant exactly what the activities can call: a missing action breaks a
 * decommission mid-way, an extra one is privilege nobody reviewed.
 */
const root = path.resolve(__dirname, '..', '..');

/** IAM service prefix of each AWS SDK client the activities may import commands from. */
const SERVICE_OF_PACKAGE: Record<string, string> = {
  '@aws-sdk/client-kms': 'kms',
  '@aws-sdk/client-cloudtrail': 'cloudtrail',
  '@aws-sdk/client-sns': 'sns',
};

/**
 * Every `new XxxCommand(` in src/activities, as `<service>:<Xxx>`: the service is the package the command
 * is imported from in that file (KMS and CloudTrail both have commands; a name alone does not say whose).
 */
function actionsCalledByActivities(): string[] {
  const dir = path.join(root, 'src', 'activities');
  const actions = new Set<string>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const source = readFileSync(path.join(dir, file), 'utf8');
    const serviceOfCommand = new Map<string, string>();
    for (const [, names, pkg] of source.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}\s+from\s+'([^']+)'/g)) {
      const service = SERVICE_OF_PACKAGE[pkg as string];
      if (!service) continue;
      for (const name of (names as string).split(',').map((n) => n.trim())) {
        const command = /^(\w+Command)$/.exec(name)?.[1];
        if (command) serviceOfCommand.set(command, service);
      }
    }
    for (const match of source.matchAll(/new (\w+)Command\(/g)) {
      const service = serviceOfCommand.get(`${match[1]}Command`);
      if (!service) throw new Error(`${file}: new ${match[1]}Command( is not imported from an AWS SDK client this test knows`);
      actions.add(`${service}:${match[1]}`);
    }
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

test('the IAM policy allows exactly the KMS, CloudTrail and SNS actions the activities call', () => {
  const called = actionsCalledByActivities();
  expect(called.length).toBeGreaterThanOrEqual(10);
  expect(called).toContain('cloudtrail:LookupEvents');
  expect(actionsInPolicy()).toEqual(called);
});

test('CloudTrail LookupEvents is granted on every resource (it has no resource-level permissions), and nothing else is', () => {
  const policy = JSON.parse(readFileSync(path.join(root, 'iam', 'worker-policy.json'), 'utf8')) as {
    Statement: { Action: string[]; Resource: string }[];
  };
  const cloudTrail = policy.Statement.filter((s) => s.Action.some((a) => a.startsWith('cloudtrail:')));
  expect(cloudTrail).toEqual([expect.objectContaining({ Action: ['cloudtrail:LookupEvents'], Resource: '*' })]);
});

test('key-changing actions are limited to custom-key-store keys', () => {
  const policy = JSON.parse(readFileSync(path.join(root, 'iam', 'worker-policy.json'), 'utf8')) as {
    Statement: { Action: string[]; Condition?: Record<string, Record<string, unknown>> }[];
  };
  const mutating = policy.Statement.find((s) => s.Action.includes('kms:ScheduleKeyDeletion'));
  expect(mutating?.Condition?.StringEquals?.['kms:KeyOrigin']).toEqual(['AWS_CLOUDHSM', 'EXTERNAL_KEY_STORE']);
  // The quiet period's DisableKey and the usage reads are confined the same way.
  expect(mutating?.Action).toEqual(expect.arrayContaining(['kms:DisableKey', 'kms:GetKeyLastUsage']));
});

test('SNS Publish is granted on the one notification topic, nothing wider', () => {
  const policy = JSON.parse(readFileSync(path.join(root, 'iam', 'worker-policy.json'), 'utf8')) as {
    Statement: { Action: string[]; Resource: string }[];
  };
  const sns = policy.Statement.filter((s) => s.Action.some((a) => a.startsWith('sns:')));
  expect(sns).toEqual([expect.objectContaining({ Action: ['sns:Publish'], Resource: 'arn:aws:sns:${AWS_REGION}:${AWS_ACCOUNT_ID}:${NOTIFICATION_TOPIC}' })]);
});
