import { createServer } from 'node:net';
import { freePort } from '../../src/devtools/temporal-dev-server';

/** Whether nothing listens on `port` on the loopback interface (the dev server binds 127.0.0.1). */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** The preferred port when it is free, else a free one, and whether it had to change. */
export async function choosePort(preferred: number): Promise<{ port: number; changed: boolean }> {
  if (await isPortFree(preferred)) return { port: preferred, changed: false };
  return { port: await freePort(), changed: true };
}
