import { formatDuration, parseDuration } from '../shared/duration';
import { MAX_QUIET_PERIOD_MS } from '../shared/validation';

/**
 * The deployment's shortest accepted `quietPeriod`. The worker enforces it (its approval policy) and the
 * client and CLI read the same variable, so that a request the worker would refuse is refused before it
 * is sent.
 */
export const MIN_QUIET_PERIOD_ENV = 'DECOMMISSION_MIN_QUIET_PERIOD';

/**
 * `DECOMMISSION_MIN_QUIET_PERIOD` in milliseconds, or undefined when unset (the validator's default, 1 day,
 * then applies). A value that is not a duration, is zero, or exceeds the longest quiet period (90 days,
 * which would refuse every quiet period) throws an Error naming the variable and the rule.
 *
 * @example
 * minQuietPeriodFromEnv({ DECOMMISSION_MIN_QUIET_PERIOD: '1m' }) // 60_000
 */
export function minQuietPeriodFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env[MIN_QUIET_PERIOD_ENV];
  if (raw === undefined || raw === '') return undefined;
  const ms = parseDuration(raw);
  if (ms === undefined || ms <= 0 || ms > MAX_QUIET_PERIOD_MS)
    throw new Error(
      `${MIN_QUIET_PERIOD_ENV} must be a duration greater than 0 and at most ${formatDuration(MAX_QUIET_PERIOD_MS)}, such as "1 day" or "2m", got "${raw}"`,
    );
  return ms;
}
