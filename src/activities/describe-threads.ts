/**
 * DescribeKey on worker threads. An account-wide inventory is DescribeKey after DescribeKey, and each
 * call costs the AWS SDK ~0.7 ms of CPU to build, sign and parse; on the activity thread it costs ~10%
 * more, because Temporal's activity context (AsyncLocalStorage) hooks every promise on Node 20. One JS
 * thread therefore tops out near 1,200 calls/s on a modest core, below AWS's 2,000/s DescribeKey quota.
 * The threads only send: pacing under the quota, the in-flight cap, retries and cancellation stay with
 * the caller on the main thread, so every rule of `callKms` holds unchanged.
 */
import type { KeyMetadata, KMSClientConfig } from '@aws-sdk/client-kms';
import path from 'node:path';
import { Worker } from 'node:worker_threads';

/** What a thread's KMS client is built from: plain data only (functions cannot cross threads). */
export type ThreadKmsConfig = Pick<KMSClientConfig, 'region'> & {
  endpoint?: string;
  /** Static credentials (tests, the emulator). Omit in production: each thread runs the SDK's default chain itself. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
};

export interface DescribeThreadData {
  kmsConfig: ThreadKmsConfig;
}

export interface DescribeRequest {
  id: number;
  keyId: string;
}

/** The parts of an SDK error that callers match on (`name`, HTTP status, network code). */
export interface ThreadError {
  name: string;
  message: string;
  code?: string;
  causeCode?: string;
  $fault?: string;
  $metadata?: { httpStatusCode?: number; requestId?: string };
}

export type DescribeReply = { id: number; metadata?: KeyMetadata; error?: undefined } | { id: number; error: ThreadError };

export interface DescribeThreads {
  /** DescribeKey on the least busy thread; rejects with an error whose `name` is the SDK's. */
  describeKey(keyId: string, signal?: AbortSignal): Promise<{ KeyMetadata?: KeyMetadata }>;
  /** Stops the threads; calls still waiting fail. */
  close(): Promise<void>;
}

/** Name of the error a call gets when its thread died under it; classified as transient (retried). */
export const THREAD_EXITED = 'DescribeThreadExited';

interface Pending {
  resolve(value: { KeyMetadata?: KeyMetadata }): void;
  reject(reason: unknown): void;
}

function toError(plain: ThreadError): Error {
  const error = new Error(plain.message);
  error.name = plain.name;
  return Object.assign(error, {
    ...(plain.code !== undefined ? { code: plain.code } : {}),
    ...(plain.causeCode !== undefined ? { cause: { code: plain.causeCode } } : {}),
    ...(plain.$fault !== undefined ? { $fault: plain.$fault } : {}),
    ...(plain.$metadata ? { $metadata: plain.$metadata } : {}),
  });
}

/** The thread entry, next to this file: `.js` when compiled, `.ts` under ts-node or jest (registered in the thread). */
function spawn(data: DescribeThreadData): Worker {
  const entry = path.join(__dirname, `describe-thread${path.extname(__filename)}`);
  return entry.endsWith('.ts')
    ? new Worker(`require('ts-node').register({ transpileOnly: true }); require(${JSON.stringify(entry)});`, { eval: true, workerData: data })
    : new Worker(entry, { workerData: data });
}

class DescribeThread {
  readonly pending = new Map<number, Pending>();
  private worker: Worker | undefined;

  constructor(private readonly data: DescribeThreadData) {}

  send(request: DescribeRequest, pending: Pending): void {
    const worker = this.running();
    this.pending.set(request.id, pending);
    // Like an open socket, a call in flight keeps the process alive; an idle pool never does.
    if (this.pending.size === 1) worker.ref();
    worker.postMessage(request);
  }

  /** Forgets a call (answered, cancelled or failed); the thread may let the process exit once none is left. */
  settle(id: number): Pending | undefined {
    const waiting = this.pending.get(id);
    if (!waiting) return undefined;
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker?.unref();
    return waiting;
  }

  start(): void {
    this.running();
  }

  private running(): Worker {
    if (this.worker) return this.worker;
    const worker = spawn(this.data);
    worker.on('message', (reply: DescribeReply) => {
      const waiting = this.settle(reply.id);
      if (!waiting) return; // cancelled meanwhile
      if (reply.error) waiting.reject(toError(reply.error));
      else waiting.resolve({ KeyMetadata: reply.metadata });
    });
    const fail = (why: string) => {
      if (this.worker !== worker) return;
      this.worker = undefined; // the next call starts a fresh thread
      const error = Object.assign(new Error(`DescribeKey thread ${why}; the call is retried`), { name: THREAD_EXITED });
      for (const waiting of this.pending.values()) waiting.reject(error);
      this.pending.clear();
    };
    worker.on('error', (err) => fail(`failed: ${err.message}`));
    worker.on('exit', (code) => fail(`exited with code ${code}`));
    // An idle pool must never be what keeps a process alive (tests, CLI, a worker shutting down). After
    // the listeners: adding a 'message' listener refs the thread again.
    if (this.pending.size === 0) worker.unref();
    this.worker = worker;
    return worker;
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    const error = Object.assign(new Error('DescribeKey threads closed'), { name: THREAD_EXITED });
    for (const waiting of this.pending.values()) waiting.reject(error);
    this.pending.clear();
    await worker?.terminate();
  }
}

/**
 * Starts `count` DescribeKey threads now, so that loading the SDK in them (a few hundred ms) is not paid by
 * the first inventory; a thread that dies is replaced on its next call.
 */
export function createDescribeThreads(count: number, kmsConfig: ThreadKmsConfig = {}): DescribeThreads {
  if (!Number.isInteger(count) || count < 1) throw new Error(`describe threads: count must be a positive integer, got ${count}`);
  const threads = Array.from({ length: count }, () => new DescribeThread({ kmsConfig }));
  for (const thread of threads) thread.start();
  let nextId = 0;
  return {
    describeKey(keyId, signal) {
      if (signal?.aborted) return Promise.reject(signal.reason);
      let thread = threads[0] as DescribeThread; // count >= 1, checked above
      for (const t of threads) if (t.pending.size < thread.pending.size) thread = t;
      const id = ++nextId;
      return new Promise((resolve, reject) => {
        if (!signal) return thread.send({ id, keyId }, { resolve, reject });
        // A cancelled call is answered at once; the thread's request finishes on its own and is dropped.
        const onAbort = () => {
          thread.settle(id);
          reject(signal.reason);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        const done = () => signal.removeEventListener('abort', onAbort);
        thread.send({ id, keyId }, { resolve: (v) => (done(), resolve(v)), reject: (e) => (done(), reject(e)) });
      });
    },
    async close() {
      await Promise.all(threads.map((t) => t.close()));
    },
  };
}
