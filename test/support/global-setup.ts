import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startDevServer, type DevServer } from '../../src/devtools/temporal-dev-server';

export const SERVER_INFO_FILE = path.resolve(__dirname, '..', '..', '.data', 'jest-temporal.json');

/** One real Temporal dev server (with the Web UI, for the browser test) for the whole jest run. */
export default async function globalSetup(): Promise<void> {
  const server = await startDevServer({ ui: true, dynamicConfig: { 'limit.numPendingActivities.error': 5000 } });
  (globalThis as { __temporalDevServer?: DevServer }).__temporalDevServer = server;
  process.env.TEMPORAL_TEST_ADDRESS = server.address;
  process.env.TEMPORAL_TEST_UI_URL = server.uiUrl;
  mkdirSync(path.dirname(SERVER_INFO_FILE), { recursive: true });
  writeFileSync(SERVER_INFO_FILE, JSON.stringify({ address: server.address, uiUrl: server.uiUrl }));
}
