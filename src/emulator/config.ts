/**
 * Option defaults and validation, shared by `startEmulator` and the CLI so both reject the same values
 * with the same wording.
 */
import { validateQuotaOverrides } from './quotas';
import { IdentityRegistry } from './identities';
import { DEFAULT_MAX_EVENTS } from './trail';
import type { EmulatorOptions, IdentitySpec, UsageSimulatorSpec } from './types';
import { validateUsageSpec } from './usage';

export interface ResolvedConfig {
  host: string;
  port: number;
  region: string;
  account: string;
  dayMs: number;
  deletionLagHours: number;
  connectMs: number;
  disconnectMs: number;
  quotaScale: number;
  statePath: string | undefined;
  accessKey: string;
  secretKey: string;
  shortPages: boolean;
  seed: number | undefined;
  trackingStartDate: number | undefined;
  quotaOverrides: Record<string, number>;
  principalArn: string;
  identities: IdentitySpec[];
  cloudTrailDelayMs: number;
  cloudTrailDelayJitterMs: number;
  cloudTrailMaxEvents: number;
  usage: UsageSimulatorSpec[];
}

/** A rejected option; `option` is the EmulatorOptions field name. */
export class OptionError extends Error {
  constructor(
    readonly option: string,
    readonly rule: string,
    value: unknown,
  ) {
    super(`${option} ${rule} (got ${JSON.stringify(value)})`);
    this.name = 'OptionError';
  }
}

const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;

function integerIn(option: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw new OptionError(option, `must be an integer between ${min} and ${max}`, value);
  return value;
}

function numberIn(option: string, value: number, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new OptionError(option, `must be a number between ${min} and ${max}`, value);
  }
  return value;
}

/** Epoch ms from a number or an ISO 8601 string; undefined when neither. */
export function parseInstant(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}/.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Applies defaults and validates every field; throws {@link OptionError}. */
export function resolveOptions(options: EmulatorOptions = {}): ResolvedConfig {
  const region = options.region ?? 'us-east-1';
  if (!REGION.test(region)) throw new OptionError('region', 'must look like an AWS region (e.g. us-east-1)', region);
  const account = options.account ?? '111122223333';
  if (!/^\d{12}$/.test(account)) throw new OptionError('account', 'must be exactly 12 digits', account);
  const accessKey = options.accessKey ?? 'test';
  if (!/^[A-Za-z0-9]{1,128}$/.test(accessKey)) throw new OptionError('accessKey', 'must be 1-128 letters or digits', accessKey);
  const secretKey = options.secretKey ?? 'test';
  if (secretKey.length < 1) throw new OptionError('secretKey', 'must not be empty', secretKey);
  let trackingStartDate: number | undefined;
  if (options.trackingStartDate !== undefined) {
    trackingStartDate = parseInstant(options.trackingStartDate);
    if (trackingStartDate === undefined)
      throw new OptionError('trackingStartDate', 'must be epoch milliseconds or an ISO 8601 date', options.trackingStartDate);
  }
  let quotaOverrides: Record<string, number> = {};
  if (options.quotaOverrides !== undefined) {
    try {
      quotaOverrides = validateQuotaOverrides(options.quotaOverrides, region);
    } catch (e) {
      throw new OptionError('quotaOverrides', (e as Error).message, options.quotaOverrides);
    }
  }
  const principalArn = options.principalArn ?? `arn:aws:iam::${account}:user/${accessKey}`;
  const identities: IdentitySpec[] = [{ arn: principalArn, accessKeyId: accessKey, secretAccessKey: secretKey }, ...(options.identities ?? [])];
  // Validates ARNs, accounts and key uniqueness the same way the running emulator will.
  try {
    new IdentityRegistry(account, identities.slice(0, 1));
  } catch (e) {
    throw new OptionError('principalArn', (e as Error).message, principalArn);
  }
  if (options.identities !== undefined && !Array.isArray(options.identities)) throw new OptionError('identities', 'must be an array', options.identities);
  try {
    new IdentityRegistry(account, identities);
  } catch (e) {
    throw new OptionError('identities', (e as Error).message, options.identities);
  }
  const usage = options.usage ?? [];
  if (!Array.isArray(usage)) throw new OptionError('usage', 'must be an array of usage simulator specs', usage);
  usage.forEach((spec, i) => {
    const problem = validateUsageSpec(spec, account);
    if (problem) throw new OptionError(`usage[${i}]`, problem, spec);
  });
  const host = options.host ?? '127.0.0.1';
  if (host.trim() === '') throw new OptionError('host', 'must not be empty', host);
  return {
    host,
    port: integerIn('port', options.port ?? 0, 0, 65535),
    region,
    account,
    dayMs: integerIn('dayMs', options.dayMs ?? 86_400_000, 1, 86_400_000 * 365),
    deletionLagHours: numberIn('deletionLagHours', options.deletionLagHours ?? 0, 0, 24),
    connectMs: integerIn('connectMs', options.connectMs ?? 2000, 0, 86_400_000),
    disconnectMs: integerIn('disconnectMs', options.disconnectMs ?? 1000, 0, 86_400_000),
    quotaScale: numberIn('quotaScale', options.quotaScale ?? 1, 0, 1_000_000),
    statePath: options.statePath,
    accessKey,
    secretKey,
    shortPages: options.shortPages ?? false,
    seed: options.seed === undefined ? undefined : integerIn('seed', options.seed, 0, 2 ** 32 - 1),
    trackingStartDate,
    quotaOverrides,
    principalArn,
    identities,
    cloudTrailDelayMs: integerIn('cloudTrailDelayMs', options.cloudTrailDelayMs ?? 0, 0, 86_400_000),
    cloudTrailDelayJitterMs: integerIn('cloudTrailDelayJitterMs', options.cloudTrailDelayJitterMs ?? 0, 0, 86_400_000),
    cloudTrailMaxEvents: integerIn('cloudTrailMaxEvents', options.cloudTrailMaxEvents ?? DEFAULT_MAX_EVENTS, 1, 100_000_000),
    usage,
  };
}
