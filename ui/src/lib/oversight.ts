// The AI oversight view's formatting and chart geometry. Every figure comes from the app
// (`ai_stats`, computed by `countersign_report::oversight` from verified entries): nothing here
// judges an entry or decides what counts. Rates are the app's; the only shares worked out here
// are those the app gives no rate for (accepted alone, edited alone, unreviewed), from its own
// counts, for display.
import type { AiStats, ModelStats, MonthStats } from "./api";

/** The four outcomes of a proposal, in the order the view and its stacked bar show them. */
export const OUTCOMES = ["accepted", "edited", "rejected", "unreviewed"] as const;
export type Outcome = (typeof OUTCOMES)[number];
/** What a count in the view stands for: every proposal, or one outcome. */
export type Count = "proposals" | Outcome;

/** A rate as a percentage with one decimal ("88.9%"); "–" when the app gives none (nothing
 *  reviewed yet). */
export function percent(rate: number | null | undefined): string {
  return rate === null || rate === undefined || !Number.isFinite(rate) ? "–" : `${(rate * 100).toFixed(1)}%`;
}

/** A change between two rates, in percentage points with its sign ("+5.8 points"). */
export function points(change: number): string {
  const p = change * 100;
  const shown = Math.abs(p) < 0.05 ? "0.0" : `${p > 0 ? "+" : "−"}${Math.abs(p).toFixed(1)}`;
  return `${shown} points`;
}

/** `n` of `of` as a percentage, for a share the app returns no rate for; "–" of nothing. */
export function share(n: number, of: number): string {
  return of > 0 ? percent(n / of) : "–";
}

/** The rate shown beside a count: the app's where it gives one (rejection), else the count's
 *  share of those reviewed (accepted, edited) or of every proposal (unreviewed). */
export function countRate(m: ModelStats, count: Outcome): string {
  const reviewed = m.accepted + m.edited + m.rejected;
  switch (count) {
    case "rejected":
      return percent(m.rejection_rate);
    case "unreviewed":
      return share(m.unreviewed, m.proposals);
    default:
      return share(m[count], reviewed);
  }
}

/** Milliseconds in the largest units that read well: "0 s", "42 s", "3 min 5 s", "2 h 5 min",
 *  "3 d 4 h". */
export function humanDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "–";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/** An entry or report id in its short form (as the provenance panel shows ids). */
export function shortId(id: string): string {
  return id.length > 12 ? `${id.slice(0, 12)}…` : id;
}

/** A reviewer as the app keys them, "name (key)": the name, and the key short. */
export function reviewerLabel(reviewer: string): { name: string; key: string | null } {
  const m = /^(.*) \(([0-9a-f]{16,})\)$/.exec(reviewer);
  return m ? { name: m[1], key: m[2] } : { name: reviewer, key: null };
}

/** The entries behind a count, as the app lists them; null when this app does not give them
 *  (then the count does not click through). */
export function entriesOf(m: ModelStats, count: Count): string[] | null {
  switch (count) {
    case "proposals":
      return m.results ?? null;
    case "unreviewed":
      return m.unreviewed_results ?? null;
    case "accepted":
      return m.accepted_results ?? null;
    case "edited":
      return m.edited_results ?? null;
    case "rejected":
      return m.rejected_results ?? null;
  }
}

/** One piece of a stacked bar. */
export interface Segment {
  outcome: Outcome;
  n: number;
  x: number;
  width: number;
}

/** The stacked bar of a version's proposals by outcome, `width` wide: one segment per outcome
 *  with any proposals, in OUTCOMES order, each as wide as its share of the proposals. */
export function stackSegments(m: Pick<ModelStats, Outcome>, width: number): Segment[] {
  const total = OUTCOMES.reduce((sum, o) => sum + m[o], 0);
  if (total <= 0) return [];
  const out: Segment[] = [];
  let x = 0;
  for (const outcome of OUTCOMES) {
    const n = m[outcome];
    if (n <= 0) continue;
    const w = (n / total) * width;
    out.push({ outcome, n, x, width: w });
    x += w;
  }
  return out;
}

/** A point of the monthly acceptance chart. */
export interface ChartPoint {
  month: string;
  x: number;
  y: number;
  rate: number;
  proposals: number;
}

/** One version's line. */
export interface ChartSeries {
  model: string;
  version: string;
  /** Its colour's index in the palette. */
  colour: number;
  points: ChartPoint[];
  /** An SVG path through the points (months with no review leave a gap). */
  path: string;
}

export interface MonthChart {
  width: number;
  height: number;
  /** The plot's box inside the SVG. */
  plot: { left: number; top: number; right: number; bottom: number };
  months: { month: string; x: number }[];
  yTicks: { label: string; y: number }[];
  series: ChartSeries[];
}

/** Colours of the chart's lines and the legend, readable on the dark panel. */
export const SERIES_COLOURS = ["#5aa9e6", "#b48ef0", "#e6b45a", "#4cc38a", "#e66a5a", "#7fd4d4", "#d48fb8", "#c7c77a"];

/** The acceptance rate per month per version as a line chart `width` × `height`: x the months
 *  any version proposed in (ascending), y 0–100 %. A month with no reviewed proposal has no
 *  rate (the app gives null) and breaks the line. Null when the app gives no months at all. */
export function monthChart(models: ModelStats[], width: number, height: number): MonthChart | null {
  const withMonths = models.filter((m): m is ModelStats & { months: MonthStats[] } => Array.isArray(m.months));
  if (withMonths.length === 0) return null;
  const all = [...new Set(withMonths.flatMap((m) => m.months.map((x) => x.month)))].sort();
  if (all.length === 0) return null;
  // Room on the right for the last month's label, centred on its point.
  const plot = { left: 44, top: 12, right: width - 28, bottom: height - 28 };
  const span = plot.right - plot.left;
  const xOf = (month: string) =>
    all.length === 1 ? plot.left + span / 2 : plot.left + (all.indexOf(month) / (all.length - 1)) * span;
  const yOf = (rate: number) => plot.bottom - rate * (plot.bottom - plot.top);
  const series = withMonths.map((m): ChartSeries => {
    const points: ChartPoint[] = [];
    let path = "";
    let drawing = false;
    for (const month of m.months) {
      if (month.acceptance_rate === null || !Number.isFinite(month.acceptance_rate)) {
        drawing = false;
        continue;
      }
      const p = { month: month.month, x: xOf(month.month), y: yOf(month.acceptance_rate), rate: month.acceptance_rate, proposals: month.proposals };
      points.push(p);
      path += `${drawing ? "L" : "M"}${p.x.toFixed(1)},${p.y.toFixed(1)}`;
      drawing = true;
    }
    return { model: m.model, version: m.version, colour: models.indexOf(m) % SERIES_COLOURS.length, points, path };
  });
  return {
    width,
    height,
    plot,
    months: all.map((month) => ({ month, x: xOf(month) })),
    yTicks: [0, 0.25, 0.5, 0.75, 1].map((r) => ({ label: `${r * 100}%`, y: yOf(r) })),
    series,
  };
}

/** A proposal as the click-through lists it: its id, its report (when the app says), and once
 *  read from the report, when it was proposed and what became of it. */
export interface ProposalRow {
  entry: string;
  report: string | null;
}

/** The rows behind a count: each entry with its report from the app's `reports` (null where
 *  the app does not say). */
export function proposalRows(entries: string[], stats: Pick<AiStats, "reports">): ProposalRow[] {
  return entries.map((entry) => ({ entry, report: stats.reports?.[entry] ?? null }));
}

/** The models the app's figures name, each once, in its order: the model filter's choices. */
export function modelNames(stats: AiStats | null): string[] {
  return [...new Set((stats?.models ?? []).map((m) => m.model))];
}

/** The app's model versions grouped by model, in the app's order. */
export function byModel(models: ModelStats[]): [string, ModelStats[]][] {
  const groups = new Map<string, ModelStats[]>();
  for (const m of models) groups.set(m.model, [...(groups.get(m.model) ?? []), m]);
  return [...groups.entries()];
}
