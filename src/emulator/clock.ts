/**
 * Emulated clock: real time plus an offset that only grows. Keeping real time underneath means
 * CONNECTING/DISCONNECTING finish on their own and SigV4 dates stay valid; the offset lets tests jump
 * over 7–30 day waiting periods.
 */
export class EmulatedClock {
  private offset = 0;

  constructor(
    /** Real milliseconds per emulated day. */
    readonly dayMs: number,
    private readonly realNow: () => number = Date.now,
  ) {}

  /** Emulated epoch milliseconds. */
  now(): number {
    return this.realNow() + this.offset;
  }

  get offsetMs(): number {
    return this.offset;
  }

  /** Moves emulated time forward; never backwards, so scheduled events cannot "un-happen". */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError('advance: ms must be a finite number >= 0');
    this.offset += ms;
  }

  /** Restores a persisted offset (start-up only). */
  restore(offsetMs: number): void {
    this.offset = Math.max(this.offset, offsetMs);
  }

  reset(): void {
    this.offset = 0;
  }

  /** Emulated duration of `days` days, in milliseconds. */
  days(days: number): number {
    return days * this.dayMs;
  }
}
