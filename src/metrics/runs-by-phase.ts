import type { Client } from '@temporalio/client';
import { WORKFLOW_TYPE } from '../shared/messages';
import { DecommissionPhaseAttribute } from '../shared/search-attributes';
import { FINAL_PHASES, type Phase } from '../shared/types';
import { RUNBOOK_ORDER } from '../workflows/phases';
import type { Sample } from './registry';

/** Phases a running decommission can be in (the search attribute's values before the run closes). */
export const OPEN_PHASES: readonly Phase[] = RUNBOOK_ORDER.filter((p) => !FINAL_PHASES.includes(p));

/**
 * Running decommissions per phase, counted in Temporal's visibility store (one count query per phase,
 * answered from a cache for `ttlMs` so that frequent scrapes cost the server nothing more). The numbers
 * are the namespace's, not this worker's: every replica reports the same values.
 */
export function runsByPhase(client: Client, ttlMs = 15_000, now: () => number = Date.now): () => Promise<Sample[]> {
  let cached: { at: number; samples: Promise<Sample[]> } | undefined;
  const refresh = async (): Promise<Sample[]> =>
    Promise.all(
      OPEN_PHASES.map(async (phase) => {
        const query = `WorkflowType='${WORKFLOW_TYPE}' AND ExecutionStatus='Running' AND ${DecommissionPhaseAttribute.name}='${phase}'`;
        const { count } = await client.workflow.count(query);
        return { labels: { phase }, value: count };
      }),
    );
  return () => {
    if (!cached || now() - cached.at >= ttlMs) {
      const samples = refresh();
      cached = { at: now(), samples };
      // A failed query is not cached: the next scrape asks again.
      samples.catch(() => {
        if (cached?.samples === samples) cached = undefined;
      });
    }
    return cached.samples;
  };
}
