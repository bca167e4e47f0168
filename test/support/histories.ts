import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { temporalAddress } from './harness';

/**
 * Recorded histories, one directory per release that recorded them (`test/histories/<version>/*.json`),
 * and SHA256SUMS over all of them. The manifest is append-only: a recorded history is evidence of what a
 * released worker did, so it is never re-recorded in place (see checkRatchet).
 */
export const HISTORIES_DIR = path.resolve(__dirname, '..', 'histories');
export const MANIFEST_NAME = 'SHA256SUMS';
export const MANIFEST_PATH = path.join(HISTORIES_DIR, MANIFEST_NAME);
const VERSION_DIR = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;
const MANIFEST_LINE = /^([0-9a-f]{64}) [ *](.+)$/;

/** The version a recording made now is filed under: package.json's. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
}

/** The version directories under `root` (`0.1.0`, `0.2.0`, …), sorted. */
export function historyVersionDirs(root = HISTORIES_DIR): string[] {
  return readdirSync(root)
    .filter((name) => VERSION_DIR.test(name) && statSync(path.join(root, name)).isDirectory())
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
}

/** Every history file as a path relative to `root` (`0.1.0/dry-run.json`), sorted. */
export function historyFiles(root = HISTORIES_DIR): string[] {
  return historyVersionDirs(root).flatMap((version) =>
    readdirSync(path.join(root, version))
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => `${version}/${f}`),
  );
}

/** `.json` files directly under `root`: every history must be filed under the version that recorded it. */
export function unversionedHistoryFiles(root = HISTORIES_DIR): string[] {
  return readdirSync(root).filter((f) => f.endsWith('.json'));
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** One manifest line in `sha256sum` format (text mode: two spaces), so `sha256sum -c SHA256SUMS` checks it. */
export function manifestLine(hash: string, file: string): string {
  return `${hash}  ${file}`;
}

export interface ManifestEntry {
  hash: string;
  file: string;
  line: string;
}

/** Parses `sha256sum` output; blank lines are skipped, anything else that is not an entry is reported. */
export function parseManifest(text: string): { entries: ManifestEntry[]; malformed: string[] } {
  const entries: ManifestEntry[] = [];
  const malformed: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') continue;
    const m = MANIFEST_LINE.exec(line);
    if (m) entries.push({ hash: m[1], file: m[2], line: manifestLine(m[1], m[2]) });
    else malformed.push(line);
  }
  return { entries, malformed };
}

export interface EarlierManifest {
  /** Where it came from, for the message (a commit hash). */
  source: string;
  text: string;
}

/**
 * The ratchet, as a pure function (unit-tested with a changed hash, a removed line, …). Returns one
 * message per problem, none when all is well:
 * - every history file is listed in the current manifest, with its current hash;
 * - every listed file exists, and is listed once;
 * - every entry of every earlier manifest is still in the current one: entries are only ever appended,
 *   so a history is never re-recorded in place (a new hash for an old file removes its old line) nor
 *   deleted.
 *
 * @param current text of the working tree's SHA256SUMS
 * @param earlier every committed version of SHA256SUMS
 * @param files hash of each history file on disk, keyed by path relative to test/histories
 */
export function checkRatchet(current: string, earlier: EarlierManifest[], files: ReadonlyMap<string, string>): string[] {
  const problems: string[] = [];
  const { entries, malformed } = parseManifest(current);
  for (const line of malformed) problems.push(`${MANIFEST_NAME}: not a "<sha256>  <path>" line: ${JSON.stringify(line)}`);
  const listed = new Map<string, string>();
  for (const { hash, file } of entries) {
    if (listed.has(file)) problems.push(`${MANIFEST_NAME} lists ${file} more than once`);
    listed.set(file, hash);
  }
  for (const [file, hash] of files) {
    const want = listed.get(file);
    if (want === undefined) problems.push(`${file} is not listed in ${MANIFEST_NAME} (record histories with RECORD_HISTORIES=1, which appends them)`);
    else if (want !== hash)
      problems.push(
        `${file} changed: ${MANIFEST_NAME} says ${want}, the file hashes to ${hash}. Recorded histories are never re-recorded in place: restore it and record a new file`,
      );
  }
  for (const file of listed.keys()) {
    if (!files.has(file)) problems.push(`${file} is listed in ${MANIFEST_NAME} but missing`);
  }
  const now = new Set(entries.map((e) => e.line));
  const reported = new Set<string>();
  for (const { source, text } of earlier) {
    for (const { line } of parseManifest(text).entries) {
      if (now.has(line) || reported.has(line)) continue;
      reported.add(line);
      problems.push(`${MANIFEST_NAME} lost a line that ${source} had: "${line}". The manifest is append-only: a recorded history is never replaced or removed`);
    }
  }
  return problems;
}

/** Hash of every history file on disk, keyed by path relative to `root`. */
export function hashHistoryFiles(root = HISTORIES_DIR): Map<string, string> {
  return new Map(historyFiles(root).map((f) => [f, sha256(readFileSync(path.join(root, f)))]));
}

/**
 * Every committed version of SHA256SUMS (`git log -- test/histories/SHA256SUMS`), or undefined when there
 * is no full git history to compare with (no git, not a repository, or a shallow clone).
 */
export function committedManifests(manifestPath = MANIFEST_PATH): EarlierManifest[] | undefined {
  const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  let top: string;
  try {
    const here = path.dirname(manifestPath);
    if (git(here, 'rev-parse', '--is-shallow-repository').trim() !== 'false') return undefined;
    top = git(here, 'rev-parse', '--show-toplevel').trim();
  } catch {
    return undefined;
  }
  // Pathspecs and <rev>:<path> are both resolved from the top of the work tree here.
  const rel = path.relative(top, manifestPath).split(path.sep).join('/');
  const commits = git(top, 'log', '--format=%H', '--', rel).split('\n').filter(Boolean);
  const out: EarlierManifest[] = [];
  for (const commit of commits) {
    try {
      out.push({ source: `commit ${commit.slice(0, 12)}`, text: git(top, 'show', `${commit}:${rel}`) });
    } catch {
      // The commit deleted the file: its earlier versions are in the list anyway.
    }
  }
  return out;
}

/** Throws unless `<root>/<version>/<name>.json` is a new history: neither on disk nor in the manifest. */
export function assertNotRecorded(name: string, options: { root?: string; version?: string } = {}): string {
  const root = options.root ?? HISTORIES_DIR;
  const version = options.version ?? packageVersion();
  if (!VERSION_DIR.test(version)) throw new Error(`not a version directory name: ${JSON.stringify(version)}`);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) || name.endsWith('.json'))
    throw new Error(`history name must be a plain file name without .json, got ${JSON.stringify(name)}`);
  const rel = `${version}/${name}.json`;
  const manifest = path.join(root, MANIFEST_NAME);
  const listed = existsSync(manifest) && parseManifest(readFileSync(manifest, 'utf8')).entries.some((e) => e.file === rel);
  if (existsSync(path.join(root, rel)) || listed) {
    throw new Error(
      `Refusing to overwrite the recorded history test/histories/${rel}: histories are append-only (test/histories/${MANIFEST_NAME}), because re-recording ` +
        `in place hides exactly the non-determinism the replay test exists to catch. Record under a new name, or bump package.json's version to record under a new version directory.`,
    );
  }
  return rel;
}

/**
 * Files a recorded history under `<root>/<version>/<name>.json` and appends it to SHA256SUMS. Refuses
 * to overwrite: a history already recorded (on disk or in the manifest) stays as it was recorded.
 * @returns the path relative to `root`
 */
export function writeHistory(json: string, name: string, options: { root?: string; version?: string } = {}): string {
  const root = options.root ?? HISTORIES_DIR;
  const rel = assertNotRecorded(name, options);
  JSON.parse(json); // never file something the replay test cannot read
  const target = path.join(root, rel);
  const manifest = path.join(root, MANIFEST_NAME);
  mkdirSync(path.dirname(target), { recursive: true });
  writeFileSync(target, json, { flag: 'wx' });
  const existing = existsSync(manifest) ? readFileSync(manifest, 'utf8') : '';
  appendFileSync(manifest, `${existing === '' || existing.endsWith('\n') ? '' : '\n'}${manifestLine(sha256(json), rel)}\n`);
  return rel;
}

/** A run's history exactly as the real CLI exports it (`temporal workflow show -o json`: the format replayers read). */
export function exportHistory(workflowId: string, address = temporalAddress()): string {
  const cli = process.env.TEMPORAL_CLI_PATH ?? 'temporal';
  return execFileSync(cli, ['workflow', 'show', '--address', address, '-w', workflowId, '-o', 'json'], { encoding: 'utf8', maxBuffer: 64 << 20 });
}

/**
 * With RECORD_HISTORIES=1, exports a finished run's history with the real CLI and files it under
 * test/histories/<package.json version>/<name>.json (appending to SHA256SUMS), for the replay test to
 * check every later version of the workflow code against. Throws if that history was recorded before.
 */
export function recordHistory(workflowId: string, name: string, address = temporalAddress()): void {
  if (!process.env.RECORD_HISTORIES) return;
  assertNotRecorded(name); // before the export: fail fast
  writeHistory(exportHistory(workflowId, address), name);
}
