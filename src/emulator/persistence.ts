/**
 * Durable state: a snapshot file plus an append-only journal next to it (`<statePath>.journal`).
 *
 * - Every request appends one journal line holding all of its changes; a line is either wholly present
 *   or torn, never half-applied. Lines of state-changing requests are fsync'd before the response goes out
 *   (group commit: concurrent requests share one fdatasync).
 * - The snapshot is rewritten (temp file + fsync + rename) only at start-up, clean shutdown, bulk seed,
 *   reset and when the journal grows large — never per request, so 100,000 keys stay cheap.
 * - Snapshot and journal are JSON Lines so that corruption can be reported by file and line. The only
 *   tolerated damage is a torn final journal line (a write cut short by kill -9 before it was acknowledged).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Change, EmulatorState } from './state';

export const SNAPSHOT_FORMAT = 'kms-emulator-snapshot';
export const SNAPSHOT_VERSION = 1;
/** Journal size that triggers a compaction from the background tick. */
export const COMPACT_THRESHOLD_BYTES = 64 * 1024 * 1024;

/** A state file that cannot be trusted; start-up must stop. */
export class StateFileError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    reason: string,
  ) {
    super(`Cannot load KMS emulator state from ${file}${line !== undefined ? ` line ${line}` : ''}: ${reason}`);
    this.name = 'StateFileError';
  }
}

/** Header of a snapshot (its first line). */
export interface SnapshotHeader {
  format: typeof SNAPSHOT_FORMAT;
  version: number;
  /** Journal lines with `j <= journalSeq` are already contained in the snapshot. */
  journalSeq: number;
  offsetMs: number;
  entitySeq: number;
  markerSecret: string;
  savedAt: string;
}

/** What a load produced besides the state itself. */
export interface LoadResult {
  offsetMs: number;
  markerSecret: string | undefined;
  journalSeq: number;
  warnings: string[];
}

interface JournalLine {
  j: number;
  n: number;
  c: Change[];
}

const STORE_TYPES = new Set(['AWS_CLOUDHSM', 'EXTERNAL_KEY_STORE']);
const STATES = new Set(['CONNECTED', 'CONNECTING', 'FAILED', 'DISCONNECTED', 'DISCONNECTING']);
const ORIGINS = new Set(['AWS_KMS', 'AWS_CLOUDHSM', 'EXTERNAL_KEY_STORE']);

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string';
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Why `c` is not a valid change record, or undefined when it is. */
function changeProblem(c: unknown): string | undefined {
  if (!isObj(c) || !isStr(c.k)) return 'record without a kind';
  const v = c.v;
  switch (c.k) {
    case 'store':
      if (
        !isObj(v) ||
        !isStr(v.id) ||
        !isNum(v.seq) ||
        !isStr(v.name) ||
        !STORE_TYPES.has(v.type as string) ||
        !STATES.has(v.connectionState as string) ||
        !isNum(v.creationDate)
      ) {
        return 'malformed custom key store record';
      }
      if (v.transition !== undefined && (!isObj(v.transition) || !isNum(v.transition.at) || !isStr(v.transition.to))) return 'malformed store transition';
      return undefined;
    case 'key':
      if (
        !isObj(v) ||
        !isStr(v.id) ||
        !isNum(v.seq) ||
        !isNum(v.creationDate) ||
        typeof v.enabled !== 'boolean' ||
        !ORIGINS.has(v.origin as string) ||
        !isStr(v.description)
      ) {
        return 'malformed key record';
      }
      if (v.deletion !== undefined && (!isObj(v.deletion) || !isNum(v.deletion.deletionDate) || !isNum(v.deletion.deleteAt) || !isNum(v.deletion.windowDays))) {
        return 'malformed key deletion';
      }
      return undefined;
    case 'alias':
      return isObj(v) && isStr(v.name) && isNum(v.seq) && isStr(v.targetKeyId) && isNum(v.creationDate) && isNum(v.lastUpdatedDate)
        ? undefined
        : 'malformed alias record';
    case 'audit':
      return isObj(v) && isNum(v.seq) && isNum(v.time) && isStr(v.operation) && isStr(v.outcome) ? undefined : 'malformed audit record';
    case 'deletion':
      return isObj(v) && isStr(v.keyId) && isNum(v.time) && isStr(v.backingKey) ? undefined : 'malformed deletion event';
    case 'trail':
      return isObj(v) &&
        isNum(v.seq) &&
        isStr(v.eventId) &&
        isNum(v.eventTime) &&
        isNum(v.deliverAt) &&
        isStr(v.eventName) &&
        isStr(v.eventSource) &&
        isStr(v.eventType)
        ? undefined
        : 'malformed CloudTrail event';
    case 'store-':
    case 'key-':
      return isStr(c.id) ? undefined : `malformed ${c.k} record`;
    case 'alias-':
      return isStr(c.name) ? undefined : 'malformed alias- record';
    case 'clock':
      return isNum(c.offsetMs) ? undefined : 'malformed clock record';
    default:
      return `unknown record kind ${JSON.stringify(c.k)}`;
  }
}

function parseLine(file: string, lineNo: number, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new StateFileError(file, lineNo, `invalid JSON (${(e as Error).message})`);
  }
}

/** Process-wide set of state paths in use, so a second emulator in the same process cannot share a file. */
const openInProcess = new Set<string>();

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class Persistence {
  readonly snapshotPath: string;
  readonly journalPath: string;
  private readonly lockPath: string;
  private journalFd: number | undefined;
  private journalBytes = 0;

  private seq = 0;
  private durableSeq = 0;
  /** Highest line that must be fsync'd before someone can be answered. */
  private needDurable = 0;
  private buffer: string[] = [];
  private running = false;
  private waiters: { seq: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  private idleWaiters: (() => void)[] = [];
  private failure: Error | undefined;

  constructor(statePath: string) {
    this.snapshotPath = path.resolve(statePath);
    this.journalPath = `${this.snapshotPath}.journal`;
    this.lockPath = `${this.snapshotPath}.lock`;
  }

  /** Takes the lock file; a live other process holding it is an error, a dead one (kill -9) is taken over. */
  lock(): void {
    if (openInProcess.has(this.snapshotPath)) throw new StateFileError(this.snapshotPath, undefined, 'already in use by another emulator in this process');
    fs.mkdirSync(path.dirname(this.snapshotPath), { recursive: true });
    try {
      const holder = Number.parseInt(fs.readFileSync(this.lockPath, 'utf8'), 10);
      if (Number.isInteger(holder) && holder !== process.pid && pidAlive(holder)) {
        throw new StateFileError(this.snapshotPath, undefined, `in use by process ${holder} (lock file ${this.lockPath})`);
      }
    } catch (e) {
      if (e instanceof StateFileError) throw e;
    }
    fs.writeFileSync(this.lockPath, String(process.pid));
    openInProcess.add(this.snapshotPath);
    // Temp snapshots of a writer that died mid-compaction are garbage (the rename never happened).
    const prefix = `${path.basename(this.snapshotPath)}.tmp-`;
    for (const name of fs.readdirSync(path.dirname(this.snapshotPath))) {
      if (name.startsWith(prefix)) fs.rmSync(path.join(path.dirname(this.snapshotPath), name), { force: true });
    }
  }

  /** Loads snapshot + journal into `state` (which must be empty). */
  load(state: EmulatorState, onClock: (offsetMs: number) => void): LoadResult {
    const result: LoadResult = { offsetMs: 0, markerSecret: undefined, journalSeq: 0, warnings: [] };
    if (fs.existsSync(this.snapshotPath)) this.loadSnapshot(state, result);
    onClock(result.offsetMs);
    if (fs.existsSync(this.journalPath)) this.replayJournal(state, result, onClock);
    this.seq = result.journalSeq;
    this.durableSeq = this.seq;
    return result;
  }

  private loadSnapshot(state: EmulatorState, result: LoadResult): void {
    const file = this.snapshotPath;
    const text = fs.readFileSync(file, 'utf8');
    if (!text.endsWith('\n')) throw new StateFileError(file, undefined, 'snapshot is truncated (no final newline)');
    const lines = text.slice(0, -1).split('\n');
    const header = parseLine(file, 1, lines[0] ?? ''); // split always yields at least one line
    if (!isObj(header) || header.format !== SNAPSHOT_FORMAT) throw new StateFileError(file, 1, `not a ${SNAPSHOT_FORMAT} file`);
    if (header.version !== SNAPSHOT_VERSION) throw new StateFileError(file, 1, `unsupported snapshot version ${String(header.version)}`);
    if (!isNum(header.journalSeq) || !isNum(header.offsetMs) || !isNum(header.entitySeq) || !isStr(header.markerSecret)) {
      throw new StateFileError(file, 1, 'malformed snapshot header');
    }
    const trailer = parseLine(file, lines.length, lines[lines.length - 1] ?? '');
    if (lines.length < 2 || !isObj(trailer) || trailer.end !== true || trailer.records !== lines.length - 2) {
      throw new StateFileError(file, lines.length, 'snapshot is incomplete (missing or wrong end record)');
    }
    for (let i = 1; i < lines.length - 1; i++) {
      const record = parseLine(file, i + 1, lines[i] as string); // i < lines.length - 1
      const problem = changeProblem(record);
      if (problem) throw new StateFileError(file, i + 1, problem);
      state.apply(record as Change, () => undefined);
    }
    state.observeSeq(header.entitySeq);
    result.offsetMs = header.offsetMs;
    result.markerSecret = header.markerSecret;
    result.journalSeq = header.journalSeq;
  }

  private replayJournal(state: EmulatorState, result: LoadResult, onClock: (offsetMs: number) => void): void {
    const file = this.journalPath;
    const text = fs.readFileSync(file, 'utf8');
    const lines = text.split('\n');
    const tail = lines.pop() as string;
    if (tail !== '') {
      // Torn last line: its request was never acknowledged (fsync precedes every response).
      result.warnings.push(`${file} line ${lines.length + 1}: dropped a torn final line (${tail.length} bytes) left by an interrupted write`);
    }
    const base = result.journalSeq;
    lines.forEach((text, i) => {
      const lineNo = i + 1;
      const parsed = parseLine(file, lineNo, text);
      if (!isObj(parsed) || !isNum(parsed.j) || !isNum(parsed.n) || !Array.isArray(parsed.c)) throw new StateFileError(file, lineNo, 'malformed journal entry');
      const entry = parsed as unknown as JournalLine;
      for (const change of entry.c) {
        const problem = changeProblem(change);
        if (problem) throw new StateFileError(file, lineNo, problem);
      }
      if (entry.j <= base) return; // already contained in the snapshot
      for (const change of entry.c) state.apply(change, onClock);
      state.observeSeq(entry.n);
      if (entry.j > result.journalSeq) result.journalSeq = entry.j;
    });
  }

  /**
   * Writes a full snapshot atomically and empties the journal. Waits for in-flight journal writes so
   * none can land after the truncation.
   */
  async compact(state: EmulatorState, offsetMs: number, markerSecret: string): Promise<void> {
    // Re-check after every wake-up: a request may have started a new write before this continuation ran.
    while (this.running) await this.idle();
    this.compactSync(state, offsetMs, markerSecret);
  }

  /** Synchronous compaction; only safe when no journal write is in flight (start-up, shutdown). */
  compactSync(state: EmulatorState, offsetMs: number, markerSecret: string): void {
    const header: SnapshotHeader = {
      format: SNAPSHOT_FORMAT,
      version: SNAPSHOT_VERSION,
      journalSeq: this.seq,
      offsetMs,
      entitySeq: state.currentSeq,
      markerSecret,
      savedAt: new Date().toISOString(),
    };
    const tmp = `${this.snapshotPath}.tmp-${process.pid}`;
    const fd = fs.openSync(tmp, 'w');
    try {
      let chunk = `${JSON.stringify(header)}\n`;
      let records = 0;
      const emit = (change: Change): void => {
        chunk += `${JSON.stringify(change)}\n`;
        records++;
        if (chunk.length > 1 << 20) {
          fs.writeSync(fd, chunk);
          chunk = '';
        }
      };
      for (const v of state.stores.values()) emit({ k: 'store', v });
      for (const v of state.keys.values()) emit({ k: 'key', v });
      for (const v of state.aliases.values()) emit({ k: 'alias', v });
      for (const v of state.audit) emit({ k: 'audit', v });
      for (const v of state.deletions) emit({ k: 'deletion', v });
      for (const v of state.trail.all()) emit({ k: 'trail', v });
      chunk += `${JSON.stringify({ end: true, records })}\n`;
      fs.writeSync(fd, chunk);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, this.snapshotPath);
    this.fsyncDir();
    // Everything buffered is contained in the snapshot now.
    this.buffer = [];
    this.durableSeq = this.seq;
    this.resolveWaiters();
    if (this.journalFd !== undefined) fs.closeSync(this.journalFd);
    this.journalFd = fs.openSync(this.journalPath, 'w');
    fs.fsyncSync(this.journalFd);
    this.journalBytes = 0;
  }

  private fsyncDir(): void {
    try {
      const dfd = fs.openSync(path.dirname(this.snapshotPath), 'r');
      try {
        fs.fsyncSync(dfd);
      } finally {
        fs.closeSync(dfd);
      }
    } catch {
      // Some filesystems refuse fsync on directories; the rename itself is still atomic.
    }
  }

  get journalSize(): number {
    return this.journalBytes;
  }

  /** Appends one journal line; `durable` lines are fsync'd before {@link waitDurable} resolves. */
  append(changes: Change[], entitySeq: number, durable: boolean): number {
    if (changes.length === 0) return this.seq;
    this.seq++;
    const line: JournalLine = { j: this.seq, n: entitySeq, c: changes };
    this.buffer.push(`${JSON.stringify(line)}\n`);
    if (durable) this.needDurable = this.seq;
    return this.seq;
  }

  /** Resolves once every durable line appended so far is on disk. */
  waitDurable(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const target = this.needDurable;
    if (target <= this.durableSeq) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiters.push({ seq: target, resolve, reject });
      this.kick();
    });
  }

  /** Writes buffered (non-durable) lines without fsync; called from the background tick. */
  flushLazily(): void {
    if (this.buffer.length > 0) this.kick();
  }

  private kick(): void {
    if (this.running) return;
    this.running = true;
    void this.run();
  }

  private async run(): Promise<void> {
    try {
      while (this.buffer.length > 0 || this.waiters.length > 0) {
        const data = this.buffer.join('');
        const upto = this.seq;
        this.buffer = [];
        const fd = this.journalFd as number;
        if (data.length > 0) {
          await new Promise<void>((resolve, reject) => fs.write(fd, data, (err) => (err ? reject(err) : resolve())));
          this.journalBytes += Buffer.byteLength(data);
        }
        if (this.waiters.length > 0) {
          await new Promise<void>((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
          this.durableSeq = Math.max(this.durableSeq, upto);
          this.resolveWaiters();
        }
      }
    } catch (e) {
      this.failure = new Error(`KMS emulator journal write failed: ${(e as Error).message}`);
      for (const w of this.waiters.splice(0)) w.reject(this.failure);
    } finally {
      this.running = false;
      for (const r of this.idleWaiters.splice(0)) r();
    }
  }

  private resolveWaiters(): void {
    const pending: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (w.seq <= this.durableSeq) w.resolve();
      else pending.push(w);
    }
    this.waiters = pending;
  }

  private idle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Final snapshot, then release the journal and the lock. */
  async close(state: EmulatorState, offsetMs: number, markerSecret: string): Promise<void> {
    try {
      await this.compact(state, offsetMs, markerSecret);
    } finally {
      if (this.journalFd !== undefined) fs.closeSync(this.journalFd);
      this.journalFd = undefined;
      try {
        fs.unlinkSync(this.lockPath);
      } catch {
        // Already gone: nothing to release.
      }
      openInProcess.delete(this.snapshotPath);
    }
  }

  /** Releases the in-process claim without writing (used when start-up fails after locking). */
  abandon(): void {
    if (this.journalFd !== undefined) fs.closeSync(this.journalFd);
    this.journalFd = undefined;
    openInProcess.delete(this.snapshotPath);
    try {
      fs.unlinkSync(this.lockPath);
    } catch {
      // Nothing to release.
    }
  }
}
