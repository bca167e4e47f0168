/**
 * Typed access to a JSON request body with KMS-style failures: a wrong JSON type is a
 * SerializationException (the service could not deserialize), a constraint violation is a
 * ValidationException worded like AWS's framework messages
 * ("1 validation error detected: Value 'x' at 'keyId' failed to satisfy constraint: ...").
 */
import { serialization, validation } from './errors';

export type JsonObject = Record<string, unknown>;

interface StringRule {
  required?: boolean;
  min?: number;
  max?: number;
  pattern?: RegExp;
}

interface IntegerRule {
  required?: boolean;
  min?: number;
  max?: number;
}

/** AWS reports member names in lower camel case. */
function camel(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

function constraint(value: unknown, member: string, rule: string): never {
  const shown = value === undefined || value === null ? 'null' : `'${String(value)}'`;
  throw validation(`1 validation error detected: Value ${shown} at '${member}' failed to satisfy constraint: ${rule}`);
}

/** Parses the raw request body; KMS requires a JSON object (an empty body counts as `{}`). */
export function parseBody(raw: string): JsonObject {
  if (raw.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw serialization('The request body could not be parsed as JSON.');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw serialization('The request body must be a JSON object.');
  }
  return parsed as JsonObject;
}

export class Input {
  constructor(
    private readonly body: JsonObject,
    private readonly path = '',
  ) {}

  private member(name: string): string {
    return this.path ? `${this.path}.${camel(name)}` : camel(name);
  }

  has(name: string): boolean {
    return this.body[name] !== undefined && this.body[name] !== null;
  }

  string(name: string, rule: StringRule & { required: true }): string;
  string(name: string, rule?: StringRule): string | undefined;
  string(name: string, rule: StringRule = {}): string | undefined {
    const value = this.body[name];
    const member = this.member(name);
    if (value === undefined || value === null) {
      if (rule.required) constraint(value, member, 'Member must not be null');
      return undefined;
    }
    if (typeof value !== 'string') throw serialization(`Unexpected type for member ${name}: expected a string.`);
    if (rule.min !== undefined && value.length < rule.min) {
      constraint(value, member, `Member must have length greater than or equal to ${rule.min}`);
    }
    if (rule.max !== undefined && value.length > rule.max) {
      constraint(value, member, `Member must have length less than or equal to ${rule.max}`);
    }
    if (rule.pattern && !rule.pattern.test(value)) {
      constraint(value, member, `Member must satisfy regular expression pattern: ${rule.pattern.source}`);
    }
    return value;
  }

  enumValue<T extends string>(name: string, values: readonly T[], required = false): T | undefined {
    const value = this.string(name, { required });
    if (value === undefined) return undefined;
    if (!(values as readonly string[]).includes(value)) {
      constraint(value, this.member(name), `Member must satisfy enum value set: [${values.join(', ')}]`);
    }
    return value as T;
  }

  integer(name: string, rule: IntegerRule = {}): number | undefined {
    const value = this.body[name];
    const member = this.member(name);
    if (value === undefined || value === null) {
      if (rule.required) constraint(value, member, 'Member must not be null');
      return undefined;
    }
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      throw serialization(`Unexpected type for member ${name}: expected an integer.`);
    }
    if (rule.min !== undefined && value < rule.min) constraint(value, member, `Member must have value greater than or equal to ${rule.min}`);
    if (rule.max !== undefined && value > rule.max) constraint(value, member, `Member must have value less than or equal to ${rule.max}`);
    return value;
  }

  boolean(name: string): boolean | undefined {
    const value = this.body[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'boolean') throw serialization(`Unexpected type for member ${name}: expected a boolean.`);
    return value;
  }

  object(name: string, required = false): Input | undefined {
    const value = this.body[name];
    if (value === undefined || value === null) {
      if (required) constraint(value, this.member(name), 'Member must not be null');
      return undefined;
    }
    if (typeof value !== 'object' || Array.isArray(value)) throw serialization(`Unexpected type for member ${name}: expected an object.`);
    return new Input(value as JsonObject, this.member(name));
  }

  /**
   * A blob member (base64 in JSON 1.1). Its value is never echoed in a validation message: blobs hold
   * plaintext or ciphertext, which AWS keeps out of error texts too.
   */
  blob(name: string, rule: { required?: boolean; min?: number; max?: number } = {}): Buffer | undefined {
    const value = this.body[name];
    const member = this.member(name);
    if (value === undefined || value === null) {
      if (rule.required) constraint(value, member, 'Member must not be null');
      return undefined;
    }
    if (typeof value !== 'string' || value.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) {
      throw serialization(`Unexpected value for member ${name}: expected a base64-encoded blob.`);
    }
    const bytes = Buffer.from(value, 'base64');
    if (rule.min !== undefined && bytes.length < rule.min) {
      throw validation(
        `1 validation error detected: Value at '${member}' failed to satisfy constraint: Member must have length greater than or equal to ${rule.min}`,
      );
    }
    if (rule.max !== undefined && bytes.length > rule.max) {
      throw validation(
        `1 validation error detected: Value at '${member}' failed to satisfy constraint: Member must have length less than or equal to ${rule.max}`,
      );
    }
    return bytes;
  }

  /** A map of string to string (EncryptionContext). */
  stringMap(name: string): Record<string, string> | undefined {
    const value = this.body[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'object' || Array.isArray(value)) throw serialization(`Unexpected type for member ${name}: expected a map.`);
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(value as JsonObject)) {
      if (typeof v !== 'string') throw serialization(`Unexpected type for member ${name}.${k}: expected a string.`);
      out[k] = v;
    }
    return out;
  }

  /** A list whose items are only type-checked (GrantTokens, Tags: accepted and ignored). */
  list(name: string, maxItems?: number): unknown[] | undefined {
    const value = this.body[name];
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value)) throw serialization(`Unexpected type for member ${name}: expected a list.`);
    if (maxItems !== undefined && value.length > maxItems) {
      constraint(`[${value.length} items]`, this.member(name), `Member must have length less than or equal to ${maxItems}`);
    }
    return value;
  }
}
