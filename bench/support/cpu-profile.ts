/**
 * `node dist-bench/bench/support/cpu-profile.js <file.cpuprofile | dir> [startUs endUs]` — the top self-time
 * functions of a V8 CPU profile (`node --cpu-prof`, e.g. the app's under bench:flash-sale with
 * BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=bench/results/profiles"), and the same time grouped by
 * where the code lives (our src/, each npm package, node's internals). Shares are of the busy time:
 * samples of `(idle)` are left out and shown apart; `(garbage collector)` and `(program)` (V8 itself,
 * outside JavaScript) count as busy. A directory: its newest .cpuprofile. startUs endUs: only that
 * window of the monotonic clock (bench:flash-sale records its scenarios' windows as appWindowsUs);
 * TOP: how many lines (25).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  busyMs: number;
  idleMs: number;
  top: { name: string; where: string; ms: number; share: number }[];
  byPlace: { place: string; ms: number; share: number }[];
}

/** Where a script lives: `src/…` of ours, an npm package, or node's own (`node:…`). */
function placeOf(url: string): string {
  if (!url) return '(native / V8)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  if (url.startsWith('node:')) return 'node internals';
  const ours = /\/dist\/(src\/[^/]+(?:\/[^/]+)?)/.exec(url);
  return ours ? ours[1] : url.replace(/^file:\/\//, '');
}

/** `window`: only the samples taken between these two monotonic-clock µs (the profile's own clock). */
export function summarise(profile: CpuProfile, topN = 25, window?: { startUs: number; endUs: number }): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (window && (at < window.startUs || at > window.endUs)) return;
    self.set(id, (self.get(id) ?? 0) + delta / 1000);
  });
  const byFunction = new Map<string, { name: string; where: string; ms: number }>();
  const byPlace = new Map<string, number>();
  let idleMs = 0;
  for (const [id, ms] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    if (functionName === '(idle)') {
      idleMs += ms;
      continue;
    }
    const where = url ? `${url.replace(/^.*\/(node_modules|dist)\//, '$1/')}:${lineNumber + 1}` : '';
    const key = `${functionName}@${where}`;
    const entry = byFunction.get(key) ?? { name: functionName || '(anonymous)', where, ms: 0 };
    entry.ms += ms;
    byFunction.set(key, entry);
    const place = placeOf(url);
    byPlace.set(place, (byPlace.get(place) ?? 0) + ms);
  }
  const busyMs = [...byFunction.values()].reduce((n, e) => n + e.ms, 0);
  const share = (ms: number) => (busyMs ? ms / busyMs : 0);
  return {
    busyMs,
    idleMs,
    top: [...byFunction.values()].sort((a, b) => b.ms - a.ms).slice(0, topN).map((e) => ({ ...e, share: share(e.ms) })),
    byPlace: [...byPlace].sort((a, b) => b[1] - a[1]).slice(0, topN).map(([place, ms]) => ({ place, ms, share: share(ms) })),
  };
}

function newestProfile(path: string): string {
  if (!statSync(path).isDirectory()) return path;
  const files = readdirSync(path).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(path, f));
  if (!files.length) throw new Error(`no .cpuprofile in ${path}`);
  return files.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
}

function main(): void {
  const [path, startUs, endUs] = process.argv.slice(2);
  if (!path) throw new Error('usage: cpu-profile <file.cpuprofile | dir> [startUs endUs]');
  const file = newestProfile(path);
  const window = startUs && endUs ? { startUs: Number(startUs), endUs: Number(endUs) } : undefined;
  const s = summarise(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, Number(process.env.TOP) || 25, window);
  const pct = (x: number) => `${(x * 100).toFixed(1).padStart(5)} %`;
  console.log(`${file}: busy ${(s.busyMs / 1000).toFixed(1)} s, idle ${(s.idleMs / 1000).toFixed(1)} s`);
  console.log('\ntop self time (share of busy time):');
  for (const e of s.top) console.log(`${pct(e.share)}  ${e.ms.toFixed(0).padStart(7)} ms  ${e.name}  ${e.where}`);
  console.log('\nby place:');
  for (const e of s.byPlace) console.log(`${pct(e.share)}  ${e.ms.toFixed(0).padStart(7)} ms  ${e.place}`);
}

if (require.main === module) main();
