/**
 * docker-compose.yml, checked without a Docker engine: Debian's `docker-compose` validates and
 * normalises the file (`config`), and the assertions read that normalised form. The admin job's script
 * runs for real against the jest dev server with the real Temporal CLI.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SEARCH_ATTRIBUTE_TYPES } from '../../src/shared/search-attributes';
import { COMPOSE_FILE, EMULATOR_ENTRY_POINTS, ROOT, toolAvailability } from './deploy-files';

const compose = toolAvailability('docker-compose', ['version'], 'apt-get install -y docker-compose, or bash scripts/install-system-deps.sh');

interface ComposeService {
  image?: string;
  build?: { context: string; target?: string };
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string | null>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  profiles?: string[];
  network_mode?: string;
  volumes?: (string | { source: string; target: string; type: string })[];
  ports?: unknown[];
}

interface ComposeConfig {
  services: Record<string, ComposeService>;
}

/** Production-like settings, and nothing else: the developer's shell and any .env must not influence the result. */
const REQUIRED_ENV = { POSTGRES_PASSWORD: 'from-the-environment', AWS_REGION: 'eu-west-1' };
const emptyEnvFile = path.join(mkdtempSync(path.join(tmpdir(), 'compose-')), 'empty.env');
writeFileSync(emptyEnvFile, '');

function runCompose(args: string[], env: Record<string, string> = REQUIRED_ENV, envFile = emptyEnvFile) {
  return spawnSync('docker-compose', ['-f', COMPOSE_FILE, '--env-file', envFile, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
  });
}

/** The normalised configuration, as docker-compose resolves it (YAML → JSON with python3-yaml, a dependency of Debian's docker-compose). */
function config(args: string[] = [], env?: Record<string, string>, envFile?: string): ComposeConfig {
  const out = runCompose([...args, 'config'], env, envFile);
  if (out.status !== 0) throw new Error(`docker-compose config failed: ${out.stderr}`);
  const json = execFileSync('python3', ['-c', 'import sys, json, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'], {
    input: out.stdout,
    encoding: 'utf8',
  });
  return JSON.parse(json) as ComposeConfig;
}

function services(args: string[]): string[] {
  const out = runCompose([...args, 'config', '--services']);
  if (out.status !== 0) throw new Error(out.stderr);
  return out.stdout.trim().split('\n').sort();
}

/**
 * The server version the production-stack test (test/production/) builds and runs this file's configuration on:
 * the compose images must be that release.
 */
const TESTED_SERVER_VERSION = (/^want=(\S+)$/m.exec(readFileSync(path.join(ROOT, 'scripts', 'ensure-temporal-server.sh'), 'utf8')) as RegExpExecArray)[1];

const CORE_SERVICES = ['postgresql', 'temporal', 'temporal-admin-tools', 'temporal-schema', 'temporal-ui', 'worker'];
const LOCAL_SERVICES = ['kms-emulator', 'kms-seed'];
const PORTAL_SERVICES = ['api'];

if (!compose.available && compose.mustFail) {
  test('docker-compose is needed in CI to validate docker-compose.yml', () => {
    throw new Error(compose.reason);
  });
} else if (!compose.available) {
  test.skip(`docker-compose.yml validation skipped: ${compose.reason}`, () => undefined);
} else {
  describe('docker-compose.yml', () => {
    test('is valid for docker-compose, with and without the local profile', () => {
      for (const args of [[], ['--profile', 'local']]) {
        const out = runCompose([...args, 'config', '-q']);
        expect({ args, status: out.status, stderr: out.stderr }).toEqual({ args, status: 0, stderr: '' });
      }
      expect(services(['--profile', 'local'])).toEqual([...CORE_SERVICES, ...LOCAL_SERVICES, ...PORTAL_SERVICES].sort());
      // docker-compose 1.29's `config` lists profiled services too, so check the profiles themselves.
      const s = config().services;
      for (const name of CORE_SERVICES) expect({ name, profiles: s[name].profiles }).toEqual({ name, profiles: undefined });
      for (const name of LOCAL_SERVICES) expect({ name, profiles: s[name].profiles }).toEqual({ name, profiles: ['local'] });
      for (const name of PORTAL_SERVICES) expect({ name, profiles: s[name].profiles }).toEqual({ name, profiles: ['portal'] });
    });

    test('has no default for secrets: it refuses to start without a database password or a region', () => {
      const noPassword = runCompose(['config', '-q'], { AWS_REGION: 'eu-west-1' });
      expect(noPassword.status).not.toBe(0);
      expect(noPassword.stderr).toContain('POSTGRES_PASSWORD');
      const noRegion = runCompose(['config', '-q'], { POSTGRES_PASSWORD: 'x' });
      expect(noRegion.status).not.toBe(0);
      expect(noRegion.stderr).toContain('AWS_REGION');
    });

    test('Temporal runs on PostgreSQL and everything starts in order, gated by health checks and finished jobs', () => {
      const s = config().services;
      expect(s.postgresql.image).toMatch(/^postgres:\d+/);
      expect(s.postgresql.healthcheck?.test.join(' ')).toContain('pg_isready');
      expect(s['temporal-schema'].image).toBe(`temporalio/admin-tools:${TESTED_SERVER_VERSION}`);
      expect(s['temporal-schema'].depends_on).toEqual({ postgresql: { condition: 'service_healthy' } });
      expect(s.temporal.image).toBe(`temporalio/server:${TESTED_SERVER_VERSION}`);
      expect(s.temporal.environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgresql', POSTGRES_PWD: REQUIRED_ENV.POSTGRES_PASSWORD });
      expect(s.temporal.depends_on).toEqual({ 'temporal-schema': { condition: 'service_completed_successfully' } });
      // The server image has no Temporal CLI: its health check asks the frontend's HTTP API with busybox wget
      // (`$$` is compose's escaped `$`: the container's shell expands $(hostname)).
      expect(s.temporal.healthcheck?.test).toEqual(['CMD-SHELL', 'wget -q -O /dev/null "http://$$(hostname):7243/api/v1/cluster-info"']);
      expect(s['temporal-admin-tools'].image).toBe(`temporalio/admin-tools:${TESTED_SERVER_VERSION}`);
      expect(s['temporal-admin-tools'].depends_on).toEqual({ temporal: { condition: 'service_healthy' } });
      expect(s['temporal-ui'].image).toMatch(/^temporalio\/ui:2\.54\.\d+$/);
      expect(s['temporal-ui'].depends_on).toEqual({ temporal: { condition: 'service_healthy' } });
      // No workflow may start before its search attributes exist: the worker waits for the admin job.
      expect(s.worker.depends_on).toEqual({ 'temporal-admin-tools': { condition: 'service_completed_successfully' } });
    });

    test('the admin-tools job runs the script that registers exactly the workflow’s search attributes', () => {
      const admin = config().services['temporal-admin-tools'];
      expect(admin.entrypoint).toEqual(['/bin/sh', '/scripts/register-search-attributes.sh']);
      expect(JSON.stringify(admin.volumes)).toContain(path.join(ROOT, 'docker', 'register-search-attributes.sh'));
      const script = readFileSync(path.join(ROOT, 'docker', 'register-search-attributes.sh'), 'utf8').replace(/\\\n\s*/g, ' ');
      const create = script.split('\n').find((line) => /temporal operator search-attribute create/.test(line)) as string;
      const pairs = [...create.matchAll(/--name (\S+) --type (\S+)/g)].map(([, name, type]) => [name, type]);
      expect(Object.fromEntries(pairs)).toEqual(SEARCH_ATTRIBUTE_TYPES);
    });

    test('the admin-tools script creates the namespace and registers the attributes with the real Temporal CLI, idempotently', () => {
      const cli = process.env.TEMPORAL_CLI_PATH;
      const address = process.env.TEMPORAL_TEST_ADDRESS;
      if (!cli || !address) throw new Error('TEMPORAL_CLI_PATH and TEMPORAL_TEST_ADDRESS must be set (run through jest with scripts/ensure-temporal.sh)');
      // The admin-tools image has `temporal` on PATH; so does this sandbox.
      const bin = mkdtempSync(path.join(tmpdir(), 'temporal-bin-'));
      symlinkSync(cli, path.join(bin, 'temporal'));
      const namespace = `compose-test-${Date.now()}`;
      const env = { PATH: `${bin}:${process.env.PATH}`, HOME: process.env.HOME, TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: namespace };
      for (let run = 1; run <= 2; run++) {
        const out = spawnSync('sh', [path.join(ROOT, 'docker', 'register-search-attributes.sh')], { env, encoding: 'utf8', timeout: 90_000 });
        expect({ run, status: out.status, stderr: out.stderr }).toEqual({ run, status: 0, stderr: '' });
      }
      const listed = JSON.parse(
        execFileSync(cli, ['operator', 'search-attribute', 'list', '--address', address, '--namespace', namespace, '--output', 'json'], { encoding: 'utf8' }),
      ) as {
        customAttributes: Record<string, string>;
      };
      for (const name of Object.keys(SEARCH_ATTRIBUTE_TYPES)) expect(listed.customAttributes[name]).toMatch(/KEYWORD/i);
    });

    test('the worker is built from this repository and configured only by environment, with no secret in the file', () => {
      const worker = config().services.worker;
      expect(worker.build?.context).toBe(ROOT);
      expect(worker.command).toBeUndefined(); // the image's CMD: node dist/src/worker.js
      // Compose (or an orchestrator) learns readiness from the worker's own endpoint.
      expect(worker.healthcheck?.test.join(' ')).toContain('127.0.0.1:9464/readyz');
      const env = worker.environment ?? {};
      for (const name of [
        'TEMPORAL_ADDRESS',
        'TEMPORAL_NAMESPACE',
        'TEMPORAL_API_KEY',
        'TEMPORAL_TLS',
        'TEMPORAL_TLS_CLIENT_CERT_PATH',
        'TEMPORAL_TLS_CLIENT_KEY_PATH',
        'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
        'TEMPORAL_TLS_SERVER_NAME',
        'AWS_REGION',
        'AWS_ACCESS_KEY_ID',
        'AWS_SECRET_ACCESS_KEY',
        'AWS_SESSION_TOKEN',
        'AWS_ENDPOINT_URL_KMS',
        'KMS_QUOTA_SCALE',
        'KMS_QUOTA_UTILIZATION',
      ]) {
        expect(env).toHaveProperty([name]);
      }
      expect(env).toMatchObject({ TEMPORAL_ADDRESS: 'temporal:7233', TEMPORAL_NAMESPACE: 'default', AWS_REGION: REQUIRED_ENV.AWS_REGION });
      // Pass-through only: unset in the environment means unset in the container (an instance role then applies).
      for (const secret of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'TEMPORAL_API_KEY', 'AWS_ENDPOINT_URL_KMS'])
        expect(env[secret]).toBeNull();
      const passed = config([], { ...REQUIRED_ENV, TEMPORAL_API_KEY: 'key-from-the-shell' }).services.worker.environment;
      expect(passed?.TEMPORAL_API_KEY).toBe('key-from-the-shell');
    });

    test('the local profile adds the seeded KMS emulator and docker/local.env points the worker at it', () => {
      const localEnv = path.join(ROOT, 'docker', 'local.env');
      const s = config(['--profile', 'local'], {}, localEnv).services;
      const port = s['kms-emulator'].command?.[s['kms-emulator'].command.indexOf('--port') + 1];
      expect(s.worker.environment?.AWS_ENDPOINT_URL_KMS).toBe(`http://kms-emulator:${port}`);
      expect(s['kms-emulator'].command).toEqual(expect.arrayContaining(['--host', '0.0.0.0']));
      expect(s['kms-emulator'].healthcheck?.test.join(' ')).toContain(`127.0.0.1:${port}/__admin/clock`);
      // The admin API only answers loopback clients: the seed job shares the emulator's network namespace.
      expect(s['kms-seed'].network_mode).toBe('service:kms-emulator');
      expect(s['kms-seed'].depends_on).toEqual({ 'kms-emulator': { condition: 'service_healthy' } });
      for (const name of LOCAL_SERVICES) {
        expect(s[name].build?.context).toBe(ROOT);
        // The Dockerfile's emulator target: the production worker image does not contain the emulator.
        expect(s[name].build?.target).toBe('emulator');
        expect(EMULATOR_ENTRY_POINTS).toContain(s[name].command?.[1]);
      }
    });

    test('the portal profile runs the API from the worker image, configured only by environment, with no secret and on loopback', () => {
      const api = config(['--profile', 'portal']).services.api;
      expect(api.build?.context).toBe(ROOT);
      expect(api.image).toBe(config().services.worker.image);
      expect(api.command).toEqual(['node', 'dist/src/api/server.js']);
      expect(existsSync(path.join(ROOT, 'src', 'api', 'server.ts'))).toBe(true);
      // Passed through from the environment only: the identity provider, the private signing key's file, the page secret.
      for (const name of ['API_ISSUER', 'API_AUDIENCE', 'DECISION_SIGNING_KEY_FILE', 'DECOMMISSION_PAGE_SECRET'])
        expect({ name, value: api.environment?.[name] }).toEqual({ name, value: null });
      expect(api.ports?.every((p) => String(p).startsWith('127.0.0.1:'))).toBe(true);
      // The worker takes the decision-verification and notification settings from the environment too.
      const worker = config().services.worker.environment ?? {};
      for (const name of ['DECOMMISSION_REQUIRE_SIGNED_DECISIONS', 'DECISION_VERIFY_JWKS', 'DECOMMISSION_SLACK_WEBHOOK_URL', 'DECOMMISSION_SNS_TOPIC_ARN'])
        expect({ name, value: worker[name] }).toEqual({ name, value: null });
    });
  });
}
