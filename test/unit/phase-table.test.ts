import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PHASES, RUNBOOK_ORDER, renderPhaseTable } from '../../src/workflows/phases';

/** The README's phase table is the code's: an edit to either without the other fails here. */
test('the README shows the phase table exactly as src/workflows/phases.ts defines it', () => {
  const readme = readFileSync(path.resolve(__dirname, '..', '..', 'README.md'), 'utf8');
  const match = /<!-- phase-table:start -->\n([\s\S]*?)\n<!-- phase-table:end -->/.exec(readme);
  expect(match?.[1]).toBe(renderPhaseTable());
});

test('every phase has a row, and cancel is refused exactly where every key is deleted, already cancelling or ended', () => {
  expect([...RUNBOOK_ORDER].sort()).toEqual(Object.keys(PHASES).sort());
  const refused = RUNBOOK_ORDER.filter((p) => !PHASES[p].cancel.accepted);
  expect(refused).toEqual(['DISCONNECTING', 'DELETING', 'ROLLING_BACK', 'COMPLETED', 'DRY_RUN_COMPLETE', 'CANCELLED', 'FAILED']);
  expect(RUNBOOK_ORDER.filter((p) => PHASES[p].approve !== 'refused')).toEqual(['AWAITING_APPROVAL']);
});
