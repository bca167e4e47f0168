/**
 * What `npm ci` and `npm run …` print on a fresh clone: no advisory a user cannot act on (npm >= 11.16 lists
 * dependencies whose install scripts `allowScripts` does not cover; npm 12 will block them), and every
 * script that starts a long-lived Node process runs on the project's Node (>= 22) even when npm itself was
 * started by an older system Node (the AWS SDK warns about Node 20 in the middle of the demo otherwise).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string>; allowScripts?: Record<string, boolean> };
const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; hasInstallScript?: boolean; dev?: boolean; optional?: boolean }>;
};

/** The package name of a lockfile path (`node_modules/a/node_modules/@s/b` → `@s/b`). */
const nameOf = (lockPath: string) => lockPath.slice(lockPath.lastIndexOf('node_modules/') + 'node_modules/'.length);

describe('npm scripts and install', () => {
  test('every dependency with an install script is reviewed in allowScripts (allowed or denied by name)', () => {
    const withScripts = Object.entries(lock.packages)
      .filter(([p, entry]) => p !== '' && entry.hasInstallScript)
      .map(([p]) => nameOf(p));
    expect(withScripts.length).toBeGreaterThan(0); // the lockfile records them: the check is not vacuous
    const reviewed = new Set(Object.keys(pkg.allowScripts ?? {}));
    expect(withScripts.filter((name) => !reviewed.has(name))).toEqual([]);
    // Names only, no versions: a lockfile update must not silently turn an allowed script into an unreviewed one.
    for (const [key, value] of Object.entries(pkg.allowScripts ?? {})) {
      expect({ key, nameOnly: !/.@/.test(key) }).toEqual({ key, nameOnly: true });
      expect(typeof value).toBe('boolean');
    }
  });

  test('every script that starts a Node process runs it on the project’s Node (scripts/with-node.sh)', () => {
    const nodeStarters = Object.entries(pkg.scripts).filter(([, cmd]) => /\b(ts-node|node)\b/.test(cmd) && !/^(tsc|eslint|prettier)\b/.test(cmd));
    for (const [name, cmd] of nodeStarters) {
      if (name === 'build' || name === 'test') continue; // build: tsc + a bundling step; test: scripts/test.sh picks the Node itself
      expect({ name, cmd, wrapped: cmd.startsWith('bash scripts/with-node.sh ') }).toEqual({ name, cmd, wrapped: true });
    }
    for (const name of ['demo', 'worker', 'emulator', 'kms-decommission', 'bench']) expect(pkg.scripts[name]).toMatch(/^bash scripts\/with-node\.sh /);
  });
});
