import { Client, Connection, isGrpcServiceError, ServiceError } from '@temporalio/client';
import { loadClientConnectConfig, type ClientConnectConfig } from '@temporalio/envconfig';
import { DecommissionClient, TASK_QUEUE } from '../client';
import { CliError, ExitCode } from './exit-codes';

/** Global options, shared by every command. */
export interface GlobalOptions {
  address?: string;
  namespace?: string;
  taskQueue?: string;
  connectTimeout?: number;
}

/** Client settings a command takes from elsewhere than the global flags. */
export interface ClientSettings {
  /** The deployment's shortest quiet period (`DECOMMISSION_MIN_QUIET_PERIOD`), for `start`. */
  minimumQuietPeriodMs?: number;
}

/** Where the CLI connects, after flags, environment and the Temporal config file are combined. */
export interface Target {
  address: string;
  namespace: string;
  taskQueue: string;
}

const DEFAULT_ADDRESS = 'localhost:7233';
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const GRPC_UNAVAILABLE = 14;

/**
 * Resolves the target: flags win, then the environment (`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE` and the
 * TOML profile, through @temporalio/envconfig; `TASK_QUEUE`, as for the worker), then the defaults.
 */
export function resolveTarget(options: GlobalOptions, loaded: ClientConnectConfig = loadClientConnectConfig(), env: NodeJS.ProcessEnv = process.env): Target {
  const { connectionOptions, namespace } = loaded;
  return {
    address: options.address ?? connectionOptions.address ?? DEFAULT_ADDRESS,
    namespace: options.namespace ?? namespace ?? 'default',
    taskQueue: options.taskQueue ?? env.TASK_QUEUE ?? TASK_QUEUE,
  };
}

/** True for errors that mean the Temporal frontend is not answering at all. */
export function isUnreachable(err: unknown): boolean {
  if (err instanceof ServiceError && isGrpcServiceError(err.cause) && err.cause.code === GRPC_UNAVAILABLE) return true;
  if (isGrpcServiceError(err) && err.code === GRPC_UNAVAILABLE) return true;
  return err instanceof Error && /Failed to connect before the deadline|ECONNREFUSED|ENOTFOUND|EAI_AGAIN/.test(err.message);
}

/**
 * Connects a {@link DecommissionClient} to the target, runs `fn` with it and closes the connection.
 * Connection failures become "cannot reach Temporal at <address>".
 *
 * @param clientOptions settings of the {@link DecommissionClient} beyond the target (see {@link ClientSettings})
 */
export async function withClient<T>(
  options: GlobalOptions,
  fn: (client: DecommissionClient, target: Target) => Promise<T>,
  clientOptions: ClientSettings = {},
): Promise<T> {
  const loaded = loadClientConnectConfig();
  const target = resolveTarget(options, loaded);
  let connection: Connection;
  try {
    connection = await Connection.connect({
      ...loaded.connectionOptions,
      address: target.address,
      connectTimeout: options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT_MS,
    });
  } catch (err) {
    throw new CliError(`cannot reach Temporal at ${target.address}: ${(err as Error).message}`);
  }
  const client = new DecommissionClient({
    client: new Client({ connection, namespace: target.namespace }),
    taskQueue: target.taskQueue,
    minimumQuietPeriodMs: clientOptions.minimumQuietPeriodMs,
  });
  try {
    return await fn(client, target);
  } catch (err) {
    if (isUnreachable(err)) throw new CliError(`cannot reach Temporal at ${target.address}: ${(err as Error).message}`, ExitCode.ERROR);
    throw err;
  } finally {
    await connection.close();
  }
}
