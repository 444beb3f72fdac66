import { describe, expect, it } from "vitest";
import type { ModelStats } from "./api";
import {
  byModel, countRate, entriesOf, humanDuration, modelNames, monthChart, percent, points, proposalRows, reviewerLabel,
  shortId, stackSegments,
} from "./oversight";

const spread = { n: 0, p50: 0, p90: 0, max: 0 };
function version(v: string, over: Partial<ModelStats> = {}): ModelStats {
  return {
    model: "soft-tissue-stats", version: v, vendor: "Countersign Labs", proposals: 100, accepted: 60, edited: 20,
    rejected: 10, unreviewed: 10, acceptance_rate: 80 / 90, rejection_rate: 10 / 90, edit_words: spread,
    review_ms: spread, reviewers: {}, results: ["a", "b"], unreviewed_results: ["b"], ...over,
  };
}

describe("percent and points", () => {
  it("formats the app's rates with one decimal, and none as a dash", () => {
    expect(percent(80 / 90)).toBe("88.9%");
    expect(percent(1)).toBe("100.0%");
    expect(percent(0)).toBe("0.0%");
    expect(percent(null)).toBe("–");
    expect(percent(undefined)).toBe("–");
  });
  it("signs a change in points", () => {
    expect(points(90 / 95 - 80 / 90)).toBe("+5.8 points");
    expect(points(-0.125)).toBe("−12.5 points");
    expect(points(0.0001)).toBe("0.0 points");
  });
});

describe("countRate", () => {
  it("takes the rejection rate from the app, and shares of its counts for the rest", () => {
    const m = version("1", { rejection_rate: 0.5 });
    // The app's rate is shown even where the counts would say otherwise.
    expect(countRate(m, "rejected")).toBe("50.0%");
    expect(countRate(m, "accepted")).toBe("66.7%");
    expect(countRate(m, "edited")).toBe("22.2%");
    expect(countRate(m, "unreviewed")).toBe("10.0%");
    expect(countRate(version("1", { accepted: 0, edited: 0, rejected: 0, rejection_rate: null }), "accepted")).toBe("–");
  });
});

describe("humanDuration", () => {
  it("reads in the largest units that fit", () => {
    expect(humanDuration(0)).toBe("0 s");
    expect(humanDuration(42_400)).toBe("42 s");
    expect(humanDuration(185_000)).toBe("3 min 5 s");
    expect(humanDuration(3 * 60_000)).toBe("3 min");
    expect(humanDuration((2 * 60 + 5) * 60_000)).toBe("2 h 5 min");
    expect(humanDuration(7_200_000)).toBe("2 h");
    expect(humanDuration((3 * 24 + 4) * 3_600_000)).toBe("3 d 4 h");
    expect(humanDuration(-1)).toBe("–");
  });
});

describe("ids and reviewers", () => {
  it("shortens ids as the provenance panel does", () => {
    expect(shortId("0123456789abcdef")).toBe("0123456789ab…");
    expect(shortId("abc")).toBe("abc");
  });
  it("splits the app's reviewer key into name and key", () => {
    const key = "ab".repeat(32);
    expect(reviewerLabel(`Dr Ada Attending (${key})`)).toEqual({ name: "Dr Ada Attending", key });
    expect(reviewerLabel("someone")).toEqual({ name: "someone", key: null });
  });
});

describe("entriesOf", () => {
  it("names the app's entries behind a count, and nothing the app did not give", () => {
    const m = version("1", { accepted_results: ["a"] });
    expect(entriesOf(m, "proposals")).toEqual(["a", "b"]);
    expect(entriesOf(m, "unreviewed")).toEqual(["b"]);
    expect(entriesOf(m, "accepted")).toEqual(["a"]);
    expect(entriesOf(m, "rejected")).toBeNull();
  });
  it("pairs each entry with its report where the app says", () => {
    expect(proposalRows(["a", "b"], { reports: { a: "r1" } })).toEqual([
      { entry: "a", report: "r1" },
      { entry: "b", report: null },
    ]);
    expect(proposalRows(["a"], {})).toEqual([{ entry: "a", report: null }]);
  });
  it("groups versions by model in the app's order", () => {
    const x = { ...version("1"), model: "x" };
    expect(byModel([version("1"), x, version("2")]).map(([m, v]) => [m, v.map((s) => s.version)]))
      .toEqual([["soft-tissue-stats", ["1", "2"]], ["x", ["1"]]]);
  });
  it("lists each model once", () => {
    expect(modelNames({ models: [version("1"), version("2"), { ...version("1"), model: "x" }], drift: [], excluded: [] }))
      .toEqual(["soft-tissue-stats", "x"]);
  });
});

describe("stackSegments", () => {
  it("lays the outcomes side by side, each as wide as its share", () => {
    const s = stackSegments({ accepted: 60, edited: 20, rejected: 0, unreviewed: 20 }, 200);
    expect(s.map((x) => [x.outcome, x.n, x.x, x.width])).toEqual([
      ["accepted", 60, 0, 120],
      ["edited", 20, 120, 40],
      ["unreviewed", 20, 160, 40],
    ]);
    expect(stackSegments({ accepted: 0, edited: 0, rejected: 0, unreviewed: 0 }, 200)).toEqual([]);
  });
});

describe("monthChart", () => {
  const months = (rates: [string, number | null][]) =>
    rates.map(([month, acceptance_rate]) => ({ month, proposals: 4, accepted: 2, edited: 1, rejected: 1, unreviewed: 0, acceptance_rate }));
  it("places every version's months on one axis, 0–100 % up the side", () => {
    const chart = monthChart([
      version("1", { months: months([["2025-11", 0.5], ["2025-12", 1]]) }),
      version("2", { months: months([["2026-01", 0.75]]) }),
    ], 300, 140)!;
    expect(chart.months.map((m) => m.month)).toEqual(["2025-11", "2025-12", "2026-01"]);
    const { left, right, top, bottom } = chart.plot;
    expect(chart.months.map((m) => m.x)).toEqual([left, (left + right) / 2, right]);
    const [v1, v2] = chart.series;
    expect(v1.points.map((p) => [p.x, p.y])).toEqual([[left, (top + bottom) / 2], [(left + right) / 2, top]]);
    expect(v1.path.startsWith("M") && v1.path.includes("L")).toBe(true);
    expect(v2.points[0].y).toBeCloseTo(bottom - 0.75 * (bottom - top));
    expect(chart.yTicks.map((t) => t.label)).toEqual(["0%", "25%", "50%", "75%", "100%"]);
    expect(chart.yTicks[0].y).toBe(bottom);
  });
  it("breaks a line at a month with no rate", () => {
    const chart = monthChart([version("1", { months: months([["2025-10", 0.5], ["2025-11", null], ["2025-12", 1]]) })], 300, 140)!;
    expect(chart.series[0].points).toHaveLength(2);
    expect(chart.series[0].path.match(/M/g)).toHaveLength(2);
    expect(chart.series[0].path.includes("L")).toBe(false);
  });
  it("draws nothing when the app gives no months", () => {
    expect(monthChart([version("1")], 300, 140)).toBeNull();
    expect(monthChart([], 300, 140)).toBeNull();
  });
});
