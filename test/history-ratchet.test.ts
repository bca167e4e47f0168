import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  HISTORIES_DIR,
  MANIFEST_PATH,
  checkRatchet,
  committedManifests,
  hashHistoryFiles,
  historyFiles,
  manifestLine,
  sha256,
  unversionedHistoryFiles,
  writeHistory,
} from './support/histories';

/**
 * The history ratchet: test/histories/SHA256SUMS lists every recorded history with its hash, and only
 * ever grows. A history re-recorded in place (defect 5: RECORD_HISTORIES=1 overwrote the fixture that
 * would have caught a determinism break) or deleted fails here.
 */
describe('test/histories ratchet', () => {
  test('every history is filed under the version that recorded it', () => {
    expect(unversionedHistoryFiles()).toEqual([]);
    expect(historyFiles().length).toBeGreaterThan(0);
  });

  test('SHA256SUMS lists every history file, each with its current hash, and nothing else', () => {
    expect(checkRatchet(readFileSync(MANIFEST_PATH, 'utf8'), [], hashHistoryFiles())).toEqual([]);
  });

  const earlier = committedManifests();
  (earlier ? test : test.skip)('SHA256SUMS keeps every line of every committed version (append-only)', () => {
    // SHA256SUMS is committed, so a full clone always has at least one earlier version to compare with.
    expect(earlier?.length).toBeGreaterThan(0);
    expect(checkRatchet(readFileSync(MANIFEST_PATH, 'utf8'), earlier ?? [], hashHistoryFiles())).toEqual([]);
  });

  test('SHA256SUMS is in sha256sum format (sha256sum -c passes in test/histories)', () => {
    const out = execFileSync('sha256sum', ['--check', '--strict', 'SHA256SUMS'], { cwd: HISTORIES_DIR, encoding: 'utf8' });
    expect(out.trim().split('\n')).toHaveLength(historyFiles().length);
  });
});

describe('checkRatchet', () => {
  const a = sha256('history a');
  const b = sha256('history b');
  const files = new Map([
    ['0.1.0/a.json', a],
    ['0.1.0/b.json', b],
  ]);
  const manifest = `${manifestLine(a, '0.1.0/a.json')}\n${manifestLine(b, '0.1.0/b.json')}\n`;

  test('accepts a manifest that matches the files and keeps every earlier line', () => {
    const first = `${manifestLine(a, '0.1.0/a.json')}\n`;
    expect(
      checkRatchet(
        manifest,
        [
          { source: 'commit 1', text: first },
          { source: 'commit 2', text: manifest },
        ],
        files,
      ),
    ).toEqual([]);
  });

  test('a file whose hash differs from its line fails (re-recorded in place, manifest not updated)', () => {
    const changed = new Map(files).set('0.1.0/a.json', sha256('history a, re-recorded'));
    expect(checkRatchet(manifest, [], changed)).toEqual([
      expect.stringMatching(/^0\.1\.0\/a\.json changed: SHA256SUMS says [0-9a-f]{64}, the file hashes to [0-9a-f]{64}/),
    ]);
  });

  test('a re-recording with its line rewritten fails against the committed manifest', () => {
    const rerecorded = sha256('history a, re-recorded');
    const now = `${manifestLine(rerecorded, '0.1.0/a.json')}\n${manifestLine(b, '0.1.0/b.json')}\n`;
    const problems = checkRatchet(now, [{ source: 'commit 1234', text: manifest }], new Map(files).set('0.1.0/a.json', rerecorded));
    expect(problems).toEqual([
      `SHA256SUMS lost a line that commit 1234 had: "${manifestLine(a, '0.1.0/a.json')}". The manifest is append-only: a recorded history is never replaced or removed`,
    ]);
  });

  test('a removed line fails, even with its file deleted too', () => {
    const onlyB = `${manifestLine(b, '0.1.0/b.json')}\n`;
    const problems = checkRatchet(onlyB, [{ source: 'commit 1234', text: manifest }], new Map([['0.1.0/b.json', b]]));
    expect(problems).toEqual([expect.stringContaining(`lost a line that commit 1234 had: "${manifestLine(a, '0.1.0/a.json')}"`)]);
  });

  test('an unlisted file, a listed but missing file, a duplicate and a malformed line each fail', () => {
    const c = sha256('history c');
    const text = `${manifestLine(a, '0.1.0/a.json')}\n${manifestLine(a, '0.1.0/a.json')}\n${manifestLine(c, '0.1.0/c.json')}\nnot a line\n`;
    expect(checkRatchet(text, [], files)).toEqual([
      'SHA256SUMS: not a "<sha256>  <path>" line: "not a line"',
      'SHA256SUMS lists 0.1.0/a.json more than once',
      expect.stringMatching(/^0\.1\.0\/b\.json is not listed in SHA256SUMS/),
      '0.1.0/c.json is listed in SHA256SUMS but missing',
    ]);
  });
});

describe('writeHistory (what RECORD_HISTORIES=1 does)', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'histories-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  test('files a new history under its version and appends it to SHA256SUMS', () => {
    writeFileSync(path.join(root, 'SHA256SUMS'), `${manifestLine(sha256('x'), '0.1.0/x.json')}\n`);
    expect(writeHistory('{"events":[]}', 'new-run', { root, version: '0.2.0' })).toBe('0.2.0/new-run.json');
    expect(readFileSync(path.join(root, '0.2.0', 'new-run.json'), 'utf8')).toBe('{"events":[]}');
    expect(readFileSync(path.join(root, 'SHA256SUMS'), 'utf8')).toBe(
      `${manifestLine(sha256('x'), '0.1.0/x.json')}\n${manifestLine(sha256('{"events":[]}'), '0.2.0/new-run.json')}\n`,
    );
  });

  test('refuses to overwrite a recorded history, and leaves it and the manifest as they were', () => {
    writeHistory('{"events":[1]}', 'run', { root, version: '0.2.0' });
    const before = readFileSync(path.join(root, 'SHA256SUMS'), 'utf8');
    expect(() => writeHistory('{"events":[2]}', 'run', { root, version: '0.2.0' })).toThrow(
      /Refusing to overwrite the recorded history test\/histories\/0\.2\.0\/run\.json/,
    );
    expect(readFileSync(path.join(root, '0.2.0', 'run.json'), 'utf8')).toBe('{"events":[1]}');
    expect(readFileSync(path.join(root, 'SHA256SUMS'), 'utf8')).toBe(before);
  });

  test('refuses a name the manifest already lists, even if the file was deleted', () => {
    writeFileSync(path.join(root, 'SHA256SUMS'), `${manifestLine(sha256('x'), '0.2.0/gone.json')}\n`);
    expect(() => writeHistory('{}', 'gone', { root, version: '0.2.0' })).toThrow(/Refusing to overwrite/);
  });
});
