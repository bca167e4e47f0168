/**
 * "An application still using key X": periodic callers that run inside the emulator process and call it
 * over HTTP with the real `@aws-sdk/client-kms` client, signed with their own identity, so their calls go
 * through the whole pipeline — quotas, faults, key states — and show up in CloudTrail like any
 * application's: successes while the key is Enabled, `DisabledException` once it is disabled,
 * `KMSInvalidStateException` once it is pending deletion (or its store is disconnected), `NotFoundException`
 * once it is deleted.
 */
import { Agent } from 'node:http';
import { isIP } from 'node:net';
import { DecryptCommand, EncryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { IdentityRegistry } from './identities';
import type { SimulatedOperation, UsageSimulatorInfo, UsageSimulatorSpec } from './types';

export const SIMULATED_OPERATIONS: readonly SimulatedOperation[] = ['Encrypt', 'Decrypt', 'GenerateDataKey'];
export const DEFAULT_USAGE_PRINCIPAL = 'still-using-app';
const NAME = /^[\w+=,.@-]{1,64}$/;
const MIN_EVERY_MS = 50;
const MAX_EVERY_MS = 86_400_000;

/** The principal ARN a spec's `principal` stands for. */
export function usagePrincipalArn(principal: string | undefined, account: string): string {
  const p = principal ?? DEFAULT_USAGE_PRINCIPAL;
  return p.startsWith('arn:') ? p : `arn:aws:iam::${account}:user/${p}`;
}

/** Why a spec is unusable, or undefined. Principal ARNs are checked when the identity is registered. */
export function validateUsageSpec(spec: unknown, account: string): string | undefined {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) return 'must be an object';
  const s = spec as Record<string, unknown>;
  if (typeof s.keyId !== 'string' || s.keyId.length < 1 || s.keyId.length > 2048) return 'keyId must be a key id, key ARN, alias name or alias ARN';
  if (s.everyMs !== undefined && (!Number.isInteger(s.everyMs) || (s.everyMs as number) < MIN_EVERY_MS || (s.everyMs as number) > MAX_EVERY_MS)) {
    return `everyMs must be an integer between ${MIN_EVERY_MS} and ${MAX_EVERY_MS}`;
  }
  if (s.principal !== undefined && (typeof s.principal !== 'string' || (!s.principal.startsWith('arn:') && !NAME.test(s.principal)))) {
    return 'principal must be a principal ARN or a user name ([A-Za-z0-9_+=,.@-], 1-64 characters)';
  }
  if (typeof s.principal === 'string' && s.principal.startsWith('arn:') && !s.principal.includes(`::${account}:`)) {
    return `principal must be in the emulator's account ${account}`;
  }
  if (s.operations !== undefined) {
    if (!Array.isArray(s.operations) || s.operations.length === 0 || !s.operations.every((o) => SIMULATED_OPERATIONS.includes(o as SimulatedOperation))) {
      return `operations must be a non-empty list of ${SIMULATED_OPERATIONS.join(', ')}`;
    }
  }
  if (s.encryptionContext !== undefined) {
    const c = s.encryptionContext;
    if (c === null || typeof c !== 'object' || Array.isArray(c) || !Object.values(c).every((v) => typeof v === 'string'))
      return 'encryptionContext must map strings to strings';
  }
  if (
    s.sourceAddress !== undefined &&
    (typeof s.sourceAddress !== 'string' || !(s.sourceAddress === '::1' || (isIP(s.sourceAddress) === 4 && s.sourceAddress.startsWith('127.'))))
  ) {
    return 'sourceAddress must be a loopback address (127.x.y.z or ::1)';
  }
  if (s.userAgent !== undefined && (typeof s.userAgent !== 'string' || s.userAgent.length === 0 || s.userAgent.length > 256))
    return 'userAgent must be 1-256 characters';
  return undefined;
}

class UsageSimulator {
  readonly info: UsageSimulatorInfo;
  private readonly client: KMSClient;
  private readonly agent: Agent;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private inFlight: Promise<void> | undefined;
  private ciphertext: Uint8Array | undefined;
  private readonly context: Record<string, string>;

  constructor(id: string, spec: UsageSimulatorSpec, identity: { arn: string; accessKeyId: string; secretAccessKey: string }, baseUrl: string, region: string) {
    const name = identity.arn.slice(identity.arn.lastIndexOf('/') + 1);
    this.context = spec.encryptionContext ?? { app: name };
    this.info = {
      id,
      keyId: spec.keyId,
      everyMs: spec.everyMs ?? 1000,
      principalArn: identity.arn,
      accessKeyId: identity.accessKeyId,
      operations: spec.operations ?? ['Encrypt', 'Decrypt'],
      ...(spec.sourceAddress !== undefined ? { sourceAddress: spec.sourceAddress } : {}),
      startedAt: new Date().toISOString(),
      rounds: 0,
      calls: 0,
      outcomes: {},
    };
    this.agent = new Agent({ keepAlive: true, ...(spec.sourceAddress !== undefined ? { localAddress: spec.sourceAddress } : {}) });
    this.client = new KMSClient({
      endpoint: baseUrl,
      region,
      credentials: { accessKeyId: identity.accessKeyId, secretAccessKey: identity.secretAccessKey },
      // Every attempt shows up in CloudTrail on its own; one attempt per call keeps the counts exact.
      maxAttempts: 1,
      customUserAgent: spec.userAgent ?? `app/${name}`,
      requestHandler: new NodeHttpHandler({ httpAgent: this.agent }),
    });
  }

  start(): void {
    this.tick();
    this.timer = setInterval(() => this.tick(), this.info.everyMs);
    this.timer.unref();
  }

  /** One round, unless the previous one is still running (no pile-up behind a slow or throttled emulator). */
  private tick(): void {
    if (this.inFlight) return;
    this.inFlight = this.round().finally(() => {
      this.inFlight = undefined;
    });
  }

  private async round(): Promise<void> {
    this.info.rounds++;
    for (const operation of this.info.operations) {
      if (this.stopped) return;
      try {
        if (operation === 'Decrypt') {
          if (!this.ciphertext) continue;
          this.info.calls++;
          await this.client.send(new DecryptCommand({ KeyId: this.info.keyId, CiphertextBlob: this.ciphertext, EncryptionContext: this.context }));
        } else if (operation === 'Encrypt') {
          this.info.calls++;
          const out = await this.client.send(
            new EncryptCommand({ KeyId: this.info.keyId, Plaintext: Buffer.from(`still in use ${this.info.rounds}`), EncryptionContext: this.context }),
          );
          this.ciphertext = out.CiphertextBlob;
        } else {
          this.info.calls++;
          const out = await this.client.send(new GenerateDataKeyCommand({ KeyId: this.info.keyId, KeySpec: 'AES_256', EncryptionContext: this.context }));
          this.ciphertext = out.CiphertextBlob;
        }
        this.count('OK');
      } catch (e) {
        const error = e as Error;
        this.count(error.name);
        this.info.lastError = { operation, name: error.name, message: error.message, at: new Date().toISOString() };
      }
    }
  }

  private count(outcome: string): void {
    this.info.outcomes[outcome] = (this.info.outcomes[outcome] ?? 0) + 1;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.inFlight;
    this.client.destroy();
    this.agent.destroy();
  }
}

/** The running simulators of one emulator. */
export class UsageSimulators {
  private readonly running = new Map<string, UsageSimulator>();
  /** Access keys registered by simulators (removed again when no simulator uses them). */
  private readonly created = new Set<string>();
  private nextId = 1;
  /** Set once the server listens; simulators call this URL. */
  baseUrl: string | undefined;

  constructor(
    private readonly identities: IdentityRegistry,
    private readonly account: string,
    private readonly region: string,
  ) {}

  /** Starts a simulator; throws a RangeError for an invalid spec or identity. */
  start(spec: UsageSimulatorSpec): UsageSimulatorInfo {
    const problem = validateUsageSpec(spec, this.account);
    if (problem) throw new RangeError(problem);
    if (!this.baseUrl) throw new RangeError('the emulator is not listening yet');
    const arn = usagePrincipalArn(spec.principal, this.account);
    // Reuse a registered identity of that principal (e.g. one given in options); otherwise create one.
    let identity = this.identities.list().find((i) => i.arn === arn);
    if (!identity) {
      identity = this.identities.add({ arn });
      this.created.add(identity.accessKeyId);
    }
    const id = `usage-${this.nextId++}`;
    const sim = new UsageSimulator(id, spec, identity, this.baseUrl, this.region);
    this.running.set(id, sim);
    sim.start();
    return sim.info;
  }

  list(): UsageSimulatorInfo[] {
    return [...this.running.values()].map((sim) => sim.info);
  }

  get(id: string): UsageSimulatorInfo | undefined {
    return this.running.get(id)?.info;
  }

  /** Stops one simulator (waiting for its round in flight); undefined when there is none with that id. */
  async stop(id: string): Promise<UsageSimulatorInfo | undefined> {
    const sim = this.running.get(id);
    if (!sim) return undefined;
    this.running.delete(id);
    await sim.stop();
    const accessKeyId = sim.info.accessKeyId;
    if (this.created.has(accessKeyId) && ![...this.running.values()].some((s) => s.info.accessKeyId === accessKeyId)) {
      this.created.delete(accessKeyId);
      this.identities.remove(accessKeyId);
    }
    return sim.info;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.running.keys()].map((id) => this.stop(id)));
  }
}
