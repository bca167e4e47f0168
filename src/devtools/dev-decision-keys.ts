/**
 * Development decision-signing keys: the API's private JWK and the worker's public JWKS, written once to
 * `~/.cache/kms-decommission/dev-keys/` (outside the repository, so a private key can never be committed).
 * Production keys are made the same way (`generateDecisionKeyPair`) and kept in the deployment's secret store.
 *
 * `npx ts-node --transpile-only src/devtools/dev-decision-keys.ts` prints the two paths; `npm run dev-issuer`
 * does this too.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generateDecisionKeyPair } from '../decisions/signing';

/** Where development keys live (the dev issuer's token key too). */
export const DEV_KEYS_DIR = path.join(os.homedir(), '.cache', 'kms-decommission', 'dev-keys');

export interface DevDecisionKeyFiles {
  /** For the API: `DECISION_SIGNING_KEY_FILE` (private; mode 0600). */
  signingKeyFile: string;
  /** For the worker: `DECISION_VERIFY_JWKS_FILE` (public). */
  verifyJwksFile: string;
  /** True when this call created them. */
  created: boolean;
}

/** Creates the key pair in `dir` unless both files exist already. */
export async function ensureDevDecisionKeys(dir = DEV_KEYS_DIR): Promise<DevDecisionKeyFiles> {
  const signingKeyFile = path.join(dir, 'decision-signing.private.jwk.json');
  const verifyJwksFile = path.join(dir, 'decision-verify.jwks.json');
  if (existsSync(signingKeyFile) && existsSync(verifyJwksFile)) return { signingKeyFile, verifyJwksFile, created: false };
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const { privateJwk, publicJwks } = await generateDecisionKeyPair();
  await writeFile(signingKeyFile, `${JSON.stringify(privateJwk)}\n`, { mode: 0o600 });
  await chmod(signingKeyFile, 0o600);
  await writeFile(verifyJwksFile, `${JSON.stringify(publicJwks, null, 2)}\n`);
  return { signingKeyFile, verifyJwksFile, created: true };
}

if (require.main === module) {
  ensureDevDecisionKeys().then(
    (keys) =>
      console.log(
        `${keys.created ? 'created' : 'exists'}:\n  DECISION_SIGNING_KEY_FILE=${keys.signingKeyFile}\n  DECISION_VERIFY_JWKS_FILE=${keys.verifyJwksFile}`,
      ),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
