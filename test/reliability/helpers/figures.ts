/**
 * Every reliability test prints what it measured as one `[reliability]` line of JSON, so the figures in
 * docs/reliability.md can be re-read from any CI log: `grep '\[reliability\]'`.
 */
export function printFigures(scenario: string, figures: Record<string, unknown>): void {
  console.log(`[reliability] ${scenario} ${JSON.stringify(figures)}`);
}

/** Milliseconds as seconds with one decimal, for figures people read. */
export function seconds(ms: number): number {
  return Math.round(ms / 100) / 10;
}
