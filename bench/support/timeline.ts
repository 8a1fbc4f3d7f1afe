import { readFileSync, writeFileSync } from 'node:fs';

import { percentile } from './load';

/**
 * Per-second figures of a run, for the charts: answers per second and the p99 of the answers that
 * completed in that second; and the resident memory of processes sampled while it ran.
 */
export class Timeline {
  private readonly buckets: number[][] = [];

  /** `atMs`: when the answer completed, ms since the run started; `latencyMs`: its latency. */
  record(atMs: number, latencyMs: number): void {
    const second = Math.max(0, Math.floor(atMs / 1000));
    (this.buckets[second] ??= []).push(latencyMs);
  }

  /** Per second, up to `seconds` (the drain after the deadline is a partial second: leave it out). */
  series(seconds = this.buckets.length): { second: number; perSecond: number; p99Ms: number }[] {
    return Array.from({ length: Math.min(seconds, this.buckets.length) }, (_, second) => {
      const sorted = Float64Array.from(this.buckets[second] ?? []).sort();
      return { second, perSecond: sorted.length, p99Ms: sorted.length ? percentile(sorted, 99) : 0 };
    });
  }
}

/** Resident set size of a process, in MB (VmRSS of /proc/<pid>/status); undefined without /proc. */
export function rssMb(pid: number): number | undefined {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

export interface RssWatch {
  /** Stops sampling: the largest RSS seen per name, and one sample per second per name. */
  stop(): { maxMb: Record<string, number>; perSecond: Record<string, number[]> };
}

/** Samples the RSS of each named process every `everyMs` until stopped. */
export function watchRss(pids: Record<string, number | undefined>, everyMs = 250): RssWatch {
  const maxMb: Record<string, number> = {};
  const perSecond: Record<string, number[]> = {};
  const started = Date.now();
  const sample = () => {
    const second = Math.floor((Date.now() - started) / 1000);
    for (const [name, pid] of Object.entries(pids)) {
      if (pid === undefined) continue;
      const mb = rssMb(pid);
      if (mb === undefined) continue;
      maxMb[name] = Math.max(maxMb[name] ?? 0, mb);
      const series = (perSecond[name] ??= []);
      series[second] = Math.max(series[second] ?? 0, mb);
    }
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return { maxMb, perSecond };
    },
  };
}

export interface ChartSeries {
  label: string;
  /** One value per second (x = index). */
  values: number[];
  axis: 'left' | 'right';
  color: string;
}

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A rounded-up axis maximum: 1, 2 or 5 times a power of ten. */
function niceMax(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((m) => m * power).find((m) => m >= value)!;
}

export interface ChartOptions {
  title: string;
  subtitle?: string;
  leftLabel: string;
  rightLabel?: string;
  series: ChartSeries[];
  targets?: { axis: 'left' | 'right'; value: number; label: string }[];
  /** Vertical lines at a second, labelled (phases of a run). */
  markers?: { second: number; label: string }[];
}

const WIDTH = 900;
const HEIGHT = 420;
const MARGIN = { top: 64, right: 80, bottom: 48, left: 80 };
const PLOT_W = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_H = HEIGHT - MARGIN.top - MARGIN.bottom;

/** Where a second and a value of either axis fall on the plot. */
function scales(options: ChartOptions) {
  const seconds = Math.max(1, ...options.series.map((s) => s.values.length));
  const maxOf = (axis: 'left' | 'right') =>
    niceMax(
      Math.max(
        0,
        ...options.series.filter((s) => s.axis === axis).flatMap((s) => s.values.filter(Number.isFinite)),
        ...(options.targets ?? []).filter((t) => t.axis === axis).map((t) => t.value),
      ),
    );
  const max = { left: maxOf('left'), right: maxOf('right') };
  const x = (second: number) => MARGIN.left + (seconds <= 1 ? 0 : (second / (seconds - 1)) * PLOT_W);
  const y = (axis: 'left' | 'right', value: number) => MARGIN.top + PLOT_H - (value / max[axis]) * PLOT_H;
  return { seconds, max, x, y };
}

type Scales = ReturnType<typeof scales>;

/** Title, grid, axis ticks and labels, and the plot's frame. */
function frame(options: ChartOptions, { seconds, max, x }: Scales): string[] {
  const parts: string[] = [];
  parts.push(`<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`);
  parts.push(`<text x="${WIDTH / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">${escape(options.title)}</text>`);
  if (options.subtitle) parts.push(`<text x="${WIDTH / 2}" y="44" text-anchor="middle" font-size="12" fill="#555">${escape(options.subtitle)}</text>`);
  for (let i = 0; i <= 5; i++) {
    const gy = MARGIN.top + (PLOT_H * i) / 5;
    parts.push(`<line x1="${MARGIN.left}" y1="${gy}" x2="${MARGIN.left + PLOT_W}" y2="${gy}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${MARGIN.left - 8}" y="${gy + 4}" text-anchor="end" font-size="11">${+(max.left * (1 - i / 5)).toPrecision(3)}</text>`);
    if (options.rightLabel) {
      parts.push(`<text x="${MARGIN.left + PLOT_W + 8}" y="${gy + 4}" font-size="11">${+(max.right * (1 - i / 5)).toPrecision(3)}</text>`);
    }
  }
  const step = Math.max(1, Math.ceil(seconds / 10));
  for (let s = 0; s < seconds; s += step) {
    parts.push(`<text x="${x(s)}" y="${MARGIN.top + PLOT_H + 16}" text-anchor="middle" font-size="11">${s}</text>`);
  }
  parts.push(`<text x="${MARGIN.left + PLOT_W / 2}" y="${HEIGHT - 10}" text-anchor="middle" font-size="12">seconds</text>`);
  parts.push(
    `<text transform="translate(18 ${MARGIN.top + PLOT_H / 2}) rotate(-90)" text-anchor="middle" font-size="12">${escape(options.leftLabel)}</text>`,
  );
  if (options.rightLabel) {
    parts.push(
      `<text transform="translate(${WIDTH - 14} ${MARGIN.top + PLOT_H / 2}) rotate(90)" text-anchor="middle" font-size="12">${escape(options.rightLabel)}</text>`,
    );
  }
  parts.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${PLOT_W}" height="${PLOT_H}" fill="none" stroke="#999"/>`);
  return parts;
}

/** Target lines, phase markers, the series and their legend. */
function content(options: ChartOptions, { x, y }: Scales): string[] {
  const parts: string[] = [];
  for (const target of options.targets ?? []) {
    const ty = y(target.axis, target.value);
    parts.push(`<line x1="${MARGIN.left}" y1="${ty}" x2="${MARGIN.left + PLOT_W}" y2="${ty}" stroke="#d62728" stroke-dasharray="6 4"/>`);
    parts.push(`<text x="${MARGIN.left + 6}" y="${ty - 4}" font-size="11" fill="#d62728">${escape(target.label)}</text>`);
  }
  (options.markers ?? []).forEach((marker, i) => {
    const mx = x(marker.second);
    parts.push(`<line x1="${mx}" y1="${MARGIN.top}" x2="${mx}" y2="${MARGIN.top + PLOT_H}" stroke="#7f7f7f" stroke-dasharray="3 3"/>`);
    parts.push(`<text x="${mx + 3}" y="${MARGIN.top + 14 + (i % 3) * 13}" font-size="10" fill="#555">${escape(marker.label)}</text>`);
  });
  for (const series of options.series) {
    const points = series.values
      .map((v, s) => (Number.isFinite(v) ? `${x(s).toFixed(1)},${y(series.axis, v).toFixed(1)}` : ''))
      .filter(Boolean)
      .join(' ');
    parts.push(`<polyline points="${points}" fill="none" stroke="${series.color}" stroke-width="2"/>`);
  }
  options.series.forEach((series, i) => {
    const lx = MARGIN.left + 10 + i * 190;
    parts.push(`<line x1="${lx}" y1="${MARGIN.top - 10}" x2="${lx + 20}" y2="${MARGIN.top - 10}" stroke="${series.color}" stroke-width="3"/>`);
    parts.push(`<text x="${lx + 26}" y="${MARGIN.top - 6}" font-size="12">${escape(series.label)} (${series.axis})</text>`);
  });
  return parts;
}

/**
 * A line chart as a standalone SVG: seconds on x, up to two y axes (left and right), a legend,
 * and optional horizontal target lines. Plain SVG, viewable in any browser.
 */
export function lineChart(options: ChartOptions): string {
  const scale = scales(options);
  const parts = [...frame(options, scale), ...content(options, scale)];
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" font-family="sans-serif">\n${parts.join('\n')}\n</svg>\n`;
}

/** Writes an SVG next to a result JSON (same name, `.svg`) and returns its path. */
export function writeChartBeside(resultPath: string, svg: string, suffix = ''): string {
  const path = resultPath.replace(/\.json$/, `${suffix}.svg`);
  writeFileSync(path, svg);
  return path;
}

