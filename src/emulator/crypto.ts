/**
 * Symmetric key material and the ciphertext blob of SYMMETRIC_DEFAULT keys: real AES-256-GCM.
 *
 * Material: 256 bits per key, derived with HMAC-SHA256 from the state's random secret (persisted with the
 * state, rotated by `reset`) and the key's id and creation time. It is never stored and never leaves the
 * emulator, yet survives restarts, so a ciphertext produced before a restart still decrypts after it.
 *
 * Blob (self-describing, like KMS's: Decrypt needs no KeyId):
 *
 *   01 02 02 00 | idLen (1 byte) | key id (UTF-8) | IV (12 bytes) | GCM tag (16 bytes) | ciphertext
 *
 * The header up to and including the key id, plus the canonical encryption context, is the GCM additional
 * authenticated data, so a changed context, key id or header fails authentication. The layout is the
 * emulator's own; only its properties (names its key, authenticated, opaque) match KMS's.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

const MAGIC = Buffer.from([0x01, 0x02, 0x02, 0x00]);
const IV_BYTES = 12;
const TAG_BYTES = 16;
const MAX_KEY_ID_BYTES = 255;

/** What a key's material is derived from. */
export interface MaterialSource {
  id: string;
  creationDate: number;
}

/** The key's 256-bit AES key. */
export function keyMaterial(stateSecret: string, key: MaterialSource): Buffer {
  return createHmac('sha256', stateSecret).update(`kms-emulator/key-material/v1\u0000${key.id}\u0000${key.creationDate}`).digest();
}

/** Canonical form of an encryption context: entries sorted by name (KMS treats the context as a set). */
export function canonicalContext(context: Record<string, string> | undefined): Buffer {
  const entries = Object.entries(context ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Buffer.from(JSON.stringify(entries), 'utf8');
}

function header(keyId: string): Buffer {
  const id = Buffer.from(keyId, 'utf8');
  if (id.length > MAX_KEY_ID_BYTES) throw new RangeError(`key id too long for a ciphertext blob: ${keyId}`);
  return Buffer.concat([MAGIC, Buffer.from([id.length]), id]);
}

/** Encrypts `plaintext` under the key; the blob names the key. */
export function seal(stateSecret: string, key: MaterialSource, plaintext: Buffer, context: Record<string, string> | undefined): Buffer {
  const head = header(key.id);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', keyMaterial(stateSecret, key), iv);
  cipher.setAAD(Buffer.concat([head, canonicalContext(context)]));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([head, iv, cipher.getAuthTag(), body]);
}

/** A blob split into its parts; `undefined` from {@link parseBlob} when it is not one of ours. */
export interface ParsedBlob {
  keyId: string;
  header: Buffer;
  iv: Buffer;
  tag: Buffer;
  body: Buffer;
}

export function parseBlob(blob: Buffer): ParsedBlob | undefined {
  if (blob.length < MAGIC.length + 1 || !blob.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  const idLen = blob.readUInt8(MAGIC.length);
  const idEnd = MAGIC.length + 1 + idLen;
  if (idLen === 0 || blob.length < idEnd + IV_BYTES + TAG_BYTES) return undefined;
  const keyId = blob.subarray(MAGIC.length + 1, idEnd).toString('utf8');
  return {
    keyId,
    header: blob.subarray(0, idEnd),
    iv: blob.subarray(idEnd, idEnd + IV_BYTES),
    tag: blob.subarray(idEnd + IV_BYTES, idEnd + IV_BYTES + TAG_BYTES),
    body: blob.subarray(idEnd + IV_BYTES + TAG_BYTES),
  };
}

/** Decrypts a parsed blob with its key; `undefined` when authentication fails (wrong context, tampering). */
export function open(stateSecret: string, key: MaterialSource, blob: ParsedBlob, context: Record<string, string> | undefined): Buffer | undefined {
  const decipher = createDecipheriv('aes-256-gcm', keyMaterial(stateSecret, key), blob.iv);
  decipher.setAAD(Buffer.concat([blob.header, canonicalContext(context)]));
  decipher.setAuthTag(blob.tag);
  try {
    return Buffer.concat([decipher.update(blob.body), decipher.final()]);
  } catch {
    return undefined;
  }
}
