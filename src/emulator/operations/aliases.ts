/**
 * Alias operations: CreateAlias, DeleteAlias, ListAliases.
 */
import { aliasArn, epochSeconds, KEY_ID_RULE, keyArn, parseKeyReference, requireKey, type OpContext } from '../context';
import { aliasNotFound, invalidKeyId, KmsError, pendingDeletion, validation } from '../errors';
import { Input, type JsonObject } from '../input';
import { effectivePageSize } from '../pagination';
import type { AliasRecord } from '../state';

export const ALIAS_NAME_PATTERN = /^[a-zA-Z0-9:/_-]+$/;
const ALIAS_RULE = { required: true, min: 1, max: 256, pattern: ALIAS_NAME_PATTERN } as const;

/** Reasons a name cannot be a customer alias, or undefined when it can. */
export function aliasNameProblem(name: string): string | undefined {
  if (!ALIAS_NAME_PATTERN.test(name) || name.length > 256) return `Alias name ${name} is not valid.`;
  if (!name.startsWith('alias/') || name.length === 'alias/'.length)
    return 'Alias must start with the prefix "alias/". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html';
  if (name.startsWith('alias/aws/')) return 'Alias names that begin with alias/aws/ are reserved for AWS managed keys.';
  return undefined;
}

/** CreateAlias: target by key id or ARN; not for PendingDeletion keys. */
export function createAlias(ctx: OpContext, body: JsonObject): undefined {
  const input = new Input(body);
  const name = input.string('AliasName', ALIAS_RULE);
  const target = input.string('TargetKeyId', KEY_ID_RULE);
  const problem = aliasNameProblem(name);
  if (problem) throw validation(problem);
  if (target.startsWith('alias/') || /^arn:[^:]*:kms:[^:]*:[^:]*:alias\//.test(target)) throw invalidKeyId(target);
  const key = requireKey(ctx, target);
  if (ctx.state.aliases.has(name)) {
    throw new KmsError('AlreadyExistsException', `An alias with the name ${aliasArn(ctx.config, name)} already exists`);
  }
  if (key.deletion) throw pendingDeletion(keyArn(ctx.config, key.id));
  const now = ctx.clock.now();
  ctx.state.putAlias({ name, seq: ctx.state.nextSeq(), targetKeyId: key.id, creationDate: now, lastUpdatedDate: now });
  return undefined;
}

/** DeleteAlias: unknown alias → "Alias <ARN> is not found." */
export function deleteAlias(ctx: OpContext, body: JsonObject): undefined {
  const name = new Input(body).string('AliasName', ALIAS_RULE);
  const alias = ctx.state.aliases.get(name);
  if (!alias) throw aliasNotFound(aliasArn(ctx.config, name));
  ctx.audit.keyId = alias.targetKeyId;
  const key = ctx.state.keys.get(alias.targetKeyId);
  if (key?.customKeyStoreId !== undefined) ctx.audit.customKeyStoreId = key.customKeyStoreId;
  ctx.state.deleteAlias(name);
  return undefined;
}

interface AliasView {
  AliasName: string;
  AliasArn: string;
  TargetKeyId: string;
  CreationDate: number;
  LastUpdatedDate: number;
}

function aliasView(ctx: OpContext, a: AliasRecord): AliasView {
  return {
    AliasName: a.name,
    AliasArn: aliasArn(ctx.config, a.name),
    TargetKeyId: a.targetKeyId,
    CreationDate: epochSeconds(a.creationDate),
    LastUpdatedDate: epochSeconds(a.lastUpdatedDate),
  };
}

/** ListAliases, optionally for one key (id or ARN), default Limit 50. */
export function listAliases(ctx: OpContext, body: JsonObject): { Aliases: AliasView[]; Truncated: boolean; NextMarker?: string } {
  const input = new Input(body);
  const keyIdValue = input.string('KeyId', { min: 1, max: 2048 });
  // The model allows 1–1000 but the documentation says 1–100; the stricter documented range is enforced.
  const limit = input.integer('Limit', { min: 1, max: 100 }) ?? 50;
  const marker = input.string('Marker', { min: 1, max: 1024, pattern: /^[\u0020-\u00FF]*$/ });
  const size = effectivePageSize(limit, ctx.config.shortPages);

  let keyId: string | undefined;
  if (keyIdValue !== undefined) {
    if (parseKeyReference(ctx.config, keyIdValue).kind === 'alias') throw invalidKeyId(keyIdValue);
    keyId = requireKey(ctx, keyIdValue).id;
  }
  const scope = keyId ?? '';
  const from = marker === undefined ? 0 : ctx.markers.decode('ListAliases', scope, marker);
  let items: AliasRecord[];
  let next: number | undefined;
  if (keyId !== undefined) {
    const all = ctx.state.aliasesOf(keyId).filter((a) => a.seq >= from);
    items = all.slice(0, size);
    next = all[size]?.seq;
  } else {
    ({ items, next } = ctx.state.aliases.page(from, size));
  }
  const out: { Aliases: AliasView[]; Truncated: boolean; NextMarker?: string } = {
    Aliases: items.map((a) => aliasView(ctx, a)),
    Truncated: next !== undefined,
  };
  if (next !== undefined) out.NextMarker = ctx.markers.encode('ListAliases', scope, next);
  return out;
}
