import type { DecommissionClient } from '../client';
import type { ClientSettings, GlobalOptions, Target } from './context';

export type { ClientSettings, GlobalOptions, Target };

/**
 * `withClient` of `./context`, loaded on first use: the Temporal client and envconfig are only
 * loaded by commands that talk to Temporal, so `--help` and usage errors stay fast.
 */
export async function withClient<T>(
  options: GlobalOptions,
  fn: (client: DecommissionClient, target: Target) => Promise<T>,
  clientOptions: ClientSettings = {},
): Promise<T> {
  const context = await import('./context');
  return context.withClient(options, fn, clientOptions);
}
