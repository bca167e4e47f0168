/**
 * KMS error model. The wire shape is `{"__type": name, "message": message}`; the status follows the
 * API Reference column of reference §1.4 (400 for client errors, 500 for the two server faults), not the
 * Smithy `@httpError` traits, because that is what the real service sends and what drives SDK retries.
 */

const SERVER_FAULTS: ReadonlySet<string> = new Set(['KMSInternalException', 'DependencyTimeoutException']);

/** An error answered to a KMS API client. */
export class KmsError extends Error {
  override readonly name: string;
  readonly status: number;

  constructor(name: string, message: string, status?: number) {
    super(message);
    this.name = name;
    this.status = status ?? (SERVER_FAULTS.has(name) ? 500 : 400);
  }

  /** JSON body as KMS sends it. */
  toBody(): { __type: string; message: string } {
    return { __type: this.name, message: this.message };
  }
}

/** Real throttling text (reference §1.5). */
export const THROTTLING_MESSAGE = 'You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.';

export function throttling(): KmsError {
  return new KmsError('ThrottlingException', THROTTLING_MESSAGE);
}

export function validation(message: string): KmsError {
  return new KmsError('ValidationException', message);
}

export function serialization(message: string): KmsError {
  return new KmsError('SerializationException', message);
}

export function internalError(): KmsError {
  return new KmsError('KMSInternalException', 'The request was rejected because an internal exception occurred. The request can be retried.');
}

export function dependencyTimeout(): KmsError {
  return new KmsError('DependencyTimeoutException', 'The system timed out while trying to fulfill the request. You can retry the request.');
}

/** `Key '<ARN>' does not exist` — the real NotFound text for an unknown or deleted key. */
export function keyNotFound(arn: string): KmsError {
  return new KmsError('NotFoundException', `Key '${arn}' does not exist`);
}

export function aliasNotFound(aliasArn: string): KmsError {
  return new KmsError('NotFoundException', `Alias ${aliasArn} is not found.`);
}

export function invalidKeyId(value: string): KmsError {
  return new KmsError('NotFoundException', `Invalid keyId ${value}`);
}

export function invalidArn(value: string): KmsError {
  return new KmsError('InvalidArnException', `Invalid arn ${value}`);
}

export function pendingDeletion(arn: string): KmsError {
  return new KmsError('KMSInvalidStateException', `${arn} is pending deletion.`);
}

/** Cryptographic operation on a Disabled key (key-state table, footnote 1). */
export function disabled(arn: string): KmsError {
  return new KmsError('DisabledException', `${arn} is disabled.`);
}

/** Cryptographic operation on a key whose custom key store is not connected (footnote 11). */
export function unavailable(arn: string): KmsError {
  return new KmsError('KMSInvalidStateException', `${arn} is unavailable.`);
}

export function notPendingDeletion(arn: string): KmsError {
  return new KmsError('KMSInvalidStateException', `${arn} is not pending deletion.`);
}

export function storeNotFound(what: string): KmsError {
  return new KmsError('CustomKeyStoreNotFoundException', `Custom key store ${what} does not exist.`);
}

export function storeInvalidState(storeId: string, state: string, operation: string): KmsError {
  return new KmsError('CustomKeyStoreInvalidStateException', `Custom key store ${storeId} is ${state}; ${operation} is not valid in that connection state.`);
}
