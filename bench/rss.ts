/** Resident memory of a process from `/proc/<pid>/status` (Linux), sampled while a scenario runs. */
import { readFileSync } from 'node:fs';
import type { WorkerMemory } from './types';

export interface ProcMemory {
  rssKiB: number;
  hwmKiB: number;
}

/** VmRSS and VmHWM of `pid`, or undefined when the process is gone or /proc is unavailable. */
export function readProcMemory(pid: number): ProcMemory | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rssKiB: field('VmRSS'), hwmKiB: field('VmHWM') };
}

/** User + system CPU seconds a process has used so far (fields 14 and 15 of /proc/<pid>/stat), or NaN. */
export function readProcCpuSeconds(pid: number): number {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return NaN;
  }
  // The command name (field 2) may contain spaces; fields after its closing parenthesis are fixed.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const ticksPerSecond = 100; // USER_HZ; 100 on every Linux this runs on
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

/** Samples a process every `intervalMs` until stopped; keeps the peak. */
export class RssSampler {
  private peakKiB = 0;
  private phasePeakKiB = 0;
  private firstKiB = 0;
  private lastHwmKiB = 0;
  private samples = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pid: number,
    intervalMs = 200,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  private sample(): void {
    const m = readProcMemory(this.pid);
    if (!m || !Number.isFinite(m.rssKiB)) return;
    this.samples++;
    if (this.firstKiB === 0) this.firstKiB = m.rssKiB;
    this.peakKiB = Math.max(this.peakKiB, m.rssKiB);
    this.phasePeakKiB = Math.max(this.phasePeakKiB, m.rssKiB);
    if (Number.isFinite(m.hwmKiB)) this.lastHwmKiB = m.hwmKiB;
  }

  /** Highest VmRSS so far, MiB; restarts the peak when `reset` (to attribute peaks to phases). */
  peakSoFar(reset = false): number {
    this.sample();
    const peak = round1(this.phasePeakKiB / 1024);
    if (reset) this.phasePeakKiB = 0;
    return peak;
  }

  /** Takes a last sample and stops. Call it before the process exits: VmHWM is lost with the process. */
  stop(): WorkerMemory {
    this.sample();
    clearInterval(this.timer);
    return {
      startRssMiB: round1(this.firstKiB / 1024),
      peakRssMiB: round1(this.peakKiB / 1024),
      hwmMiB: round1(this.lastHwmKiB / 1024),
      samples: this.samples,
    };
  }
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
