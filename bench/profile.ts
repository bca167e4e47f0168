/**
 * Summary of a V8 CPU profile (`node --cpu-prof`) of the worker's main thread: where its CPU goes, by
 * category, so a finding can say how much of a CPU-bound phase is the AWS SDK, Temporal payload encoding
 * (heartbeats) or garbage collection.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  startTime: number;
  endTime: number;
}

/** Share of sampled time per category, 0–1, plus the profile's duration. */
export interface ProfileSummary {
  seconds: number;
  shares: Record<string, number>;
}

/** Category of a frame; heartbeat encoding is recognised by its call path, not by the frame alone. */
function category(url: string, fn: string, underHeartbeat: boolean): string {
  if (fn === '(idle)') return 'idle';
  if (fn === '(garbage collector)') return 'garbage collection';
  if (underHeartbeat) return 'Temporal heartbeat encoding';
  if (/node_modules\/(@smithy|@aws-sdk|@aws-crypto)\//.test(url)) return 'AWS SDK';
  if (/node_modules\/(@temporalio|rxjs|protobufjs)\//.test(url)) return 'Temporal SDK';
  if (/^node:(_http|http|net|internal\/(streams|http|net))/.test(url) || /^node:_http/.test(url)) return 'Node HTTP';
  if (/\/src\/(activities|emulator|workflows|shared)\//.test(url)) return 'project code';
  return 'other (Node internals, crypto, promises)';
}

/** Summarises the largest profile in `dir` (the main thread's; worker threads are mostly idle). */
export async function summariseCpuProfile(dir: string): Promise<ProfileSummary | undefined> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'));
  let best: CpuProfile | undefined;
  for (const f of files) {
    const p = JSON.parse(await readFile(path.join(dir, f), 'utf8')) as CpuProfile;
    if (!best || p.samples.length > best.samples.length) best = p;
  }
  if (!best) return undefined;
  const byId = new Map(best.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of best.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // A frame is heartbeat encoding when the SDK's heartbeat stream (worker.js) encodes a payload above it.
  const heartbeat = new Map<number, boolean>();
  const isHeartbeat = (id: number): boolean => {
    const known = heartbeat.get(id);
    if (known !== undefined) return known;
    const node = byId.get(id) as ProfileNode;
    const here = node.callFrame.functionName === 'encodeToPayload';
    const up = parent.get(id);
    const result = here ? isUnderWorkerStream(id) : up !== undefined && isHeartbeat(up);
    heartbeat.set(id, result);
    return result;
  };
  const isUnderWorkerStream = (id: number): boolean => {
    for (let up = parent.get(id), depth = 0; up !== undefined && depth < 4; up = parent.get(up), depth++) {
      if (/@temporalio\/worker\/lib\/worker\.js$/.test((byId.get(up) as ProfileNode).callFrame.url)) return true;
    }
    return false;
  };
  const counts = new Map<string, number>();
  for (const id of best.samples) {
    const node = byId.get(id) as ProfileNode;
    const c = category(node.callFrame.url, node.callFrame.functionName, isHeartbeat(id));
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  const total = best.samples.length || 1;
  const shares: Record<string, number> = {};
  for (const [c, n] of [...counts.entries()].sort((a, b) => b[1] - a[1])) shares[c] = Math.round((1000 * n) / total) / 1000;
  return { seconds: Math.round((best.endTime - best.startTime) / 1e5) / 10, shares };
}
