/**
 * Callers the emulator knows: access key id → secret (for SigV4) and the principal it belongs to (for
 * CloudTrail's `userIdentity` and LookupEvents' `Username`). The configured `accessKey`/`secretKey` pair is
 * always there; more can be given as options or added through the admin API (a usage simulator adds one
 * for its named application).
 *
 * Everything CloudTrail shows about a principal is derived from its ARN, so events recorded by an identity
 * that was removed since (or before a restart) still render the same.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IdentityInfo, IdentitySpec } from './types';

/** A registered identity (secrets included: the admin API is a loopback-only test interface). */
export type Identity = IdentityInfo;

export type PrincipalType = 'IAMUser' | 'AssumedRole' | 'Root';

interface ParsedPrincipal {
  type: PrincipalType;
  account: string;
  username: string;
  roleName?: string;
  rolePath?: string;
}

const USER_ARN = /^arn:aws:iam::(\d{12}):user\/((?:[\w+=,.@-]+\/)*)([\w+=,.@-]{1,64})$/;
const ROLE_SESSION_ARN = /^arn:aws:sts::(\d{12}):assumed-role\/([\w+=,.@-]{1,64})\/([\w+=,.@-]{2,64})$/;
const ROOT_ARN = /^arn:aws:iam::(\d{12}):root$/;
const ACCESS_KEY_ID = /^[A-Za-z0-9]{1,128}$/;

/** Parses a principal ARN; throws a RangeError naming the accepted forms otherwise. */
export function parsePrincipalArn(arn: string): ParsedPrincipal {
  let m = USER_ARN.exec(arn);
  if (m) return { type: 'IAMUser', account: m[1] as string, username: m[3] as string };
  m = ROLE_SESSION_ARN.exec(arn);
  if (m) return { type: 'AssumedRole', account: m[1] as string, roleName: m[2] as string, username: m[3] as string };
  m = ROOT_ARN.exec(arn);
  if (m) return { type: 'Root', account: m[1] as string, username: 'root' };
  throw new RangeError(
    `principal ARN ${JSON.stringify(arn)} must be arn:aws:iam::<account>:user/<name>, arn:aws:sts::<account>:assumed-role/<role>/<session> or arn:aws:iam::<account>:root`,
  );
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** 17 stable base32 characters from `seed` — the shape of the unique part of IAM ids. */
function stableId(seed: string): string {
  const digest = createHash('sha256').update(seed).digest();
  let out = '';
  for (let i = 0; i < 17; i++) out += BASE32[(digest[i] as number) % 32];
  return out;
}

function randomBase32(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += BASE32[b % 32];
  return out;
}

/** CloudTrail `userIdentity` for an API call by `arn` with `accessKeyId` (IAM id fields derived from the ARN). */
export function userIdentity(arn: string, accessKeyId: string | undefined): Record<string, unknown> {
  const p = parsePrincipalArn(arn);
  const common = { arn, accountId: p.account, ...(accessKeyId !== undefined ? { accessKeyId } : {}) };
  switch (p.type) {
    case 'IAMUser':
      return { type: 'IAMUser', principalId: `AIDA${stableId(arn)}`, ...common, userName: p.username };
    case 'Root':
      return { type: 'Root', principalId: p.account, ...common };
    case 'AssumedRole': {
      const roleArn = `arn:aws:iam::${p.account}:role/${p.roleName as string}`;
      const roleId = `AROA${stableId(roleArn)}`;
      return {
        type: 'AssumedRole',
        principalId: `${roleId}:${p.username}`,
        ...common,
        sessionContext: {
          sessionIssuer: { type: 'Role', principalId: roleId, arn: roleArn, accountId: p.account, userName: p.roleName },
          attributes: { mfaAuthenticated: 'false' },
        },
      };
    }
  }
}

const usernames = new Map<string, string>();

/** LookupEvents `Username` of a principal (cached: every recorded event asks). */
export function usernameOf(arn: string): string {
  let name = usernames.get(arn);
  if (name === undefined) {
    name = parsePrincipalArn(arn).username;
    if (usernames.size >= 10_000) usernames.clear();
    usernames.set(arn, name);
  }
  return name;
}

export class IdentityRegistry {
  private readonly byKey = new Map<string, Identity>();
  /** Keys that exist from start-up (options) and survive `reset`. */
  private readonly permanent = new Set<string>();

  constructor(
    private readonly account: string,
    base: IdentitySpec[],
  ) {
    for (const spec of base) this.permanent.add(this.add(spec).accessKeyId);
  }

  /** Validates and registers an identity; throws a RangeError on a bad ARN, a foreign account or a taken key. */
  add(spec: IdentitySpec): Identity {
    if (spec === null || typeof spec !== 'object' || typeof spec.arn !== 'string') throw new RangeError('an identity needs an arn');
    const p = parsePrincipalArn(spec.arn);
    if (p.account !== this.account) throw new RangeError(`principal ARN ${spec.arn} is not in the emulator's account ${this.account}`);
    const accessKeyId = spec.accessKeyId ?? `${p.type === 'AssumedRole' ? 'ASIA' : 'AKIA'}${randomBase32(16)}`;
    if (typeof accessKeyId !== 'string' || !ACCESS_KEY_ID.test(accessKeyId)) throw new RangeError('accessKeyId must be 1-128 letters or digits');
    if (this.byKey.has(accessKeyId)) throw new RangeError(`access key ${accessKeyId} is already registered`);
    const secretAccessKey = spec.secretAccessKey ?? randomBytes(30).toString('base64');
    if (typeof secretAccessKey !== 'string' || secretAccessKey.length === 0) throw new RangeError('secretAccessKey must be a non-empty string');
    const identity: Identity = { arn: spec.arn, accessKeyId, secretAccessKey, type: p.type, username: p.username };
    this.byKey.set(accessKeyId, identity);
    return identity;
  }

  get(accessKeyId: string): Identity | undefined {
    return this.byKey.get(accessKeyId);
  }

  secretFor(accessKeyId: string): string | undefined {
    return this.byKey.get(accessKeyId)?.secretAccessKey;
  }

  /** Removes an identity added at runtime; start-up identities cannot be removed. */
  remove(accessKeyId: string): boolean {
    if (this.permanent.has(accessKeyId)) throw new RangeError(`access key ${accessKeyId} was configured at start-up and cannot be removed`);
    return this.byKey.delete(accessKeyId);
  }

  list(): Identity[] {
    return [...this.byKey.values()];
  }

  /** Forgets every identity added at runtime (admin reset). */
  resetToPermanent(): void {
    for (const key of [...this.byKey.keys()]) if (!this.permanent.has(key)) this.byKey.delete(key);
  }
}
