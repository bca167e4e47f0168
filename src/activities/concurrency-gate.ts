/**
 * Caps KMS requests in flight across the worker. The pacer already caps the rate; this caps the memory:
 * without it, every concurrent activity builds and signs its requests up front and they queue in the HTTP
 * agent (100 concurrent inventories peaked at 638 MiB of RSS).
 */
export interface ConcurrencyGate {
  /** Waits for a free slot; call the returned function exactly once when the request has settled. */
  enter(): Promise<() => void>;
}

export function createConcurrencyGate(limit: number): ConcurrencyGate {
  let active = 0;
  const waiting: (() => void)[] = [];
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else active--;
  };
  return {
    async enter() {
      if (active < limit) active++;
      else await new Promise<void>((resolve) => waiting.push(resolve));
      let released = false;
      return () => {
        if (released) return;
        released = true;
        release();
      };
    },
  };
}
