import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The one-line summary the issue specifies: the last line the benchmark prints on stdout. */
export interface Summary {
  runsPerSec: number;
  /** Bare DBOS on a queue with the service's default queue options. */
  baselineWfPerSec: number;
  ratio: number;
  /** One run at a time on an idle service: POST /api/runs → GET says succeeded. */
  idleStartP50Ms: number;
  idleStartP99Ms: number;
  /** Bare DBOS, DBOS.startWorkflow without a queue, at its best concurrency: the ceiling. */
  bareDirectWfPerSec: number;
  /** runsPerSec ÷ bareDirectWfPerSec: the headline ratio. */
  directRatio: number;
  startP50Ms: number;
  startP99Ms: number;
  listP50Ms: number;
  listP99Ms: number;
  storedWorkflows: number;
  commitsPerRun: number;
  rssMb: number;
}

export interface Target {
  readonly label: string;
  readonly value: number;
  readonly target: number;
  /** 'min': the value must be at least the target; 'max': at most. */
  readonly kind: 'min' | 'max';
  readonly unit: string;
}

/**
 * The targets of the performance issue. "≤ 10 commits per run" is checked twice: on write
 * transactions (the commits that flush WAL: what durability costs), and on every transaction
 * including DBOS's read-only status and checkpoint lookups, which bare DBOS alone spends 11 of.
 */
export function targetsFor(summary: Summary, quick: boolean, writeTransactionsPerRun?: number, cpu?: CpuRatios): Target[] {
  return [
    { label: 'idle start p50 (POST → succeeded)', value: summary.idleStartP50Ms, target: 50, kind: 'max', unit: 'ms' },
    { label: 'idle start p99 (POST → succeeded)', value: summary.idleStartP99Ms, target: 150, kind: 'max', unit: 'ms' },
    { label: 'ratio to bare DBOS direct start', value: summary.directRatio, target: 0.6, kind: 'min', unit: '' },
    { label: 'ratio to bare DBOS queued', value: summary.ratio, target: 0.8, kind: 'min', unit: '' },
    { label: 'service CPU per run ÷ bare direct', value: cpu?.service ?? Number.NaN, target: 1.5, kind: 'max', unit: '×' },
    { label: 'Postgres CPU per run ÷ bare direct', value: cpu?.postgres ?? Number.NaN, target: 1.5, kind: 'max', unit: '×' },
    {
      label: `list p99 at ${summary.storedWorkflows.toLocaleString('en-US')} workflows`,
      value: summary.listP99Ms,
      target: quick ? 50 : 20,
      kind: 'max',
      unit: 'ms',
    },
    { label: 'POST /api/runs p99', value: summary.startP99Ms, target: 100, kind: 'max', unit: 'ms' },
    { label: 'write transactions per run', value: writeTransactionsPerRun ?? Number.NaN, target: 10, kind: 'max', unit: '' },
    { label: 'commits per run, read-only included (net)', value: summary.commitsPerRun, target: 10, kind: 'max', unit: '' },
    { label: 'idle RSS', value: summary.rssMb, target: 200, kind: 'max', unit: 'MB' },
  ];
}

/** CPU per run of the service (and of Postgres while it ran) divided by bare direct-start DBOS's per workflow. */
export interface CpuRatios {
  readonly service: number;
  readonly postgres: number;
}

export function meets(t: Target): boolean {
  return t.kind === 'min' ? t.value >= t.target : t.value <= t.target;
}

function escape(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/**
 * A hand-written horizontal bar chart: each figure as a bar scaled against its target (the dashed
 * line at 100 %), green when the target holds, red when it does not.
 */
export function svgChart(summary: Summary, targets: readonly Target[], title: string, subtitle: string): string {
  const width = 900;
  const rowHeight = 44;
  const top = 78;
  const labelWidth = 290;
  const barMax = 320; // px for 200 % of target
  const height = top + targets.length * rowHeight + 40;
  const x100 = labelWidth + barMax / 2;
  const rows = targets
    .map((t, i) => {
      const y = top + i * rowHeight;
      const share = t.value / t.target;
      const barWidth = Math.max(2, Math.min(barMax, (share * barMax) / 2));
      const ok = meets(t);
      const shown = `${t.value}${t.unit ? ` ${t.unit}` : ''}`;
      const goal = `${t.kind === 'min' ? '≥' : '≤'} ${t.target}${t.unit ? ` ${t.unit}` : ''}`;
      return [
        `<text x="${labelWidth - 10}" y="${y + 19}" text-anchor="end" class="label">${escape(t.label)}</text>`,
        `<rect x="${labelWidth}" y="${y + 5}" width="${barWidth.toFixed(1)}" height="20" rx="3" class="${ok ? 'ok' : 'miss'}"/>`,
        `<text x="${labelWidth + barWidth + 6}" y="${y + 19}" class="value">${escape(shown)}  (target ${escape(goal)})${share > 2 ? ' ▸' : ''}</text>`,
      ].join('\n  ');
    })
    .join('\n  ');
  const figures = `runs/s ${summary.runsPerSec} · bare DBOS direct ${summary.bareDirectWfPerSec} wf/s, queued ${summary.baselineWfPerSec} wf/s · idle start p50 ${summary.idleStartP50Ms} ms · POST p50 ${summary.startP50Ms} ms · list p50 ${summary.listP50Ms} ms`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif">
  <style>
    .title { font-size: 16px; font-weight: 600; fill: #111; }
    .sub { font-size: 11px; fill: #555; }
    .label { font-size: 12px; fill: #222; }
    .value { font-size: 12px; fill: #222; }
    .ok { fill: #2e9d5b; }
    .miss { fill: #d0433a; }
  </style>
  <rect width="100%" height="100%" fill="#fff"/>
  <text x="16" y="26" class="title">${escape(title)}</text>
  <text x="16" y="46" class="sub">${escape(subtitle)}</text>
  <text x="16" y="62" class="sub">${escape(figures)}</text>
  <line x1="${x100}" y1="${top - 4}" x2="${x100}" y2="${top + targets.length * rowHeight}" stroke="#888" stroke-dasharray="4 3"/>
  <text x="${x100}" y="${top + targets.length * rowHeight + 16}" text-anchor="middle" class="sub">target (bars are scaled to their target; the axis ends at 2×)</text>
  ${rows}
</svg>
`;
}

/** Writes bench/results/<stamp>.json and .svg, and copies the chart to bench/results/latest.svg. */
export function writeResults(root: string, stamp: string, results: unknown, svg: string): { json: string; svg: string } {
  const dir = join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const json = join(dir, `${stamp}.json`);
  const chart = join(dir, `${stamp}.svg`);
  writeFileSync(json, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(chart, svg);
  copyFileSync(chart, join(dir, 'latest.svg'));
  return { json, svg: chart };
}
