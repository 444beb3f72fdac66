// The mock's AI department, for the AI oversight view in a plain browser: a seeded generator of
// reports on three studies (two CT, one MR) holding AI proposals of two versions of one model
// (soft-tissue-stats 1.0.0 and 2.0.0) and of a second model (series-geometry 1.0) over four
// months, reviewed by two attendings — accepted, edited, rejected or left unreviewed — plus one
// proposal whose signature does not verify and one review that does not. `aiStats` answers as
// `ai stats --json` would (a small imitation of countersign_report::oversight, as the mock's
// `report_actions` imitates the rules). Only `--mode mock` builds include it.
import type { AiStats, AiStatsFilter, AiView, Author, EntryStatus, ModelStats, MonthStats, ProvenanceItem, ReportView, Section, StudyRow } from "./api";

/** A small seeded generator (mulberry32): the same department every run. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEED = 17;
const verified: EntryStatus = { state: "verified" };

interface Plan {
  model: string;
  version: string;
  vendor: string;
  section: string;
  /** Months it proposed in, and how many each. */
  months: [string, number][];
  /** Chances of accept, edit, reject (the rest is left unreviewed). */
  odds: [number, number, number];
}

/** Who proposed what, when, and how likely each outcome was. */
const PLANS: Plan[] = [
  {
    model: "soft-tissue-stats", version: "1.0.0", vendor: "Countersign Labs", section: "findings",
    months: [["2025-10", 8], ["2025-11", 9], ["2025-12", 6]], odds: [0.5, 0.2, 0.25],
  },
  {
    model: "soft-tissue-stats", version: "2.0.0", vendor: "Countersign Labs", section: "findings",
    months: [["2025-12", 6], ["2026-01", 10]], odds: [0.6, 0.2, 0.1],
  },
  {
    model: "series-geometry", version: "1.0", vendor: "Countersign examples", section: "technique",
    months: [["2025-11", 4], ["2025-12", 4], ["2026-01", 5]], odds: [0.6, 0.25, 0.1],
  },
];

/** The department's studies: the modality filter tells them apart. */
export const AI_STUDIES = [
  { study: "2.25.3001", modality: "CT", patient: "Phantom^AiChest", description: "AI department: CT chest" },
  { study: "2.25.3002", modality: "CT", patient: "Phantom^AiAbdomen", description: "AI department: CT abdomen" },
  { study: "2.25.3003", modality: "MR", patient: "Phantom^AiKnee", description: "AI department: MR knee" },
];

export interface AiDepartment {
  reports: ReportView[];
  rows: () => StudyRow[];
  /** As `ai_stats` answers: the figures over the proposals the filter admits. */
  stats: (filter: Partial<AiStatsFilter>) => AiStats;
  /** The words an edit changed, by review entry (what the app measures from the texts). */
  editWords: Map<string, number>;
}

/** Builds the department from `reviewers` (the mock's attendings) and `sections` (a draft
 *  report's sections, copied into each report). */
export function aiDepartment(reviewers: Author[], sections: Section[]): AiDepartment {
  const random = rng(SEED);
  const hex = () => Array.from({ length: 64 }, () => Math.floor(random() * 16).toString(16)).join("");
  const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)];
  const editWords = new Map<string, number>();
  const models = new Map(PLANS.map((p) => [`${p.model} ${p.version}`, {
    key: hex(), name: p.model, role: "ai-model", ai_model: { vendor: p.vendor, model: p.model, version: p.version },
  } as Author]));

  // Two reports per study: the proposals are spread over them.
  const reports: ReportView[] = AI_STUDIES.flatMap((s, i) => [0, 1].map((j): ReportView => {
    const created = Date.UTC(2025, 9, 1 + i * 2 + j, 8);
    const id = hex();
    return {
      report: id, study: s.study, template: "ct-chest", template_title: "CT chest", images: ["ramp-0", "ramp-1"],
      status: "draft", created_by: reviewers[0], created_ms: created,
      sections: structuredClone(sections).map((x) => ({ ...x, text: null, versions: [], current: null })),
      signoff: null, signoffs: [], refused_signoffs: [], resolutions: [], addenda: [], measurements: [], critical: [],
      followups: [], reads: [], ai: [], heads: [id],
      provenance: [{ entry: id, kind: "report.create", author: reviewers[0], seq: 1, time_ms: created, parents: [], status: verified }],
    };
  }));

  for (const plan of PLANS) {
    const author = models.get(`${plan.model} ${plan.version}`)!;
    for (const [month, n] of plan.months) {
      const [y, m] = month.split("-").map(Number);
      for (let k = 0; k < n; k++) {
        const report = pick(reports);
        const time = Date.UTC(y, m - 1, 1 + Math.floor(random() * 27), 7 + Math.floor(random() * 10), Math.floor(random() * 60));
        const entry = hex();
        const roll = random();
        const [accept, edit, reject] = plan.odds;
        const decision = roll < accept ? "accept" : roll < accept + edit ? "edit" : roll < accept + edit + reject ? "reject" : null;
        const reviewer = pick(reviewers);
        // Minutes to a few days after the proposal.
        const wait = Math.round(60_000 * (2 + random() ** 3 * 4000));
        const review = decision && {
          entry: hex(), reviewer, time_ms: time + wait, decision: decision as "accept" | "edit" | "reject",
          comment: decision === "reject" ? "Measured outside the region of interest." : null,
        };
        if (review && decision === "edit") editWords.set(review.entry, 1 + Math.floor(random() * 14));
        const ai: AiView = {
          entry, author, time_ms: time, model: plan.model, version: plan.version, inputs: ["ramp-1"],
          parameters: { algorithm: `${plan.model}/${plan.version}` }, outputs: { mean_hu: (30 + random() * 20).toFixed(1) },
          section: plan.section,
          text: plan.section === "findings"
            ? `Automated measurement (${plan.model} ${plan.version}): soft-tissue attenuation, mean ${(30 + random() * 20).toFixed(1)} HU. A statistic, not a diagnosis.`
            : `${2 + Math.floor(random() * 300)} images, matrix 512 × 512, slice thickness 1.25 mm (${plan.model} ${plan.version}).`,
          review, status: verified,
        };
        report.ai.push(ai);
        const item = (e: string, kind: string, who: Author, at: number): ProvenanceItem =>
          ({ entry: e, kind, author: who, seq: report.provenance.length + 1, time_ms: at, parents: [], section: plan.section, status: verified });
        report.provenance.push(item(entry, "ai.result", author, time));
        if (review) report.provenance.push(item(review.entry, "ai.review", reviewer, review.time_ms));
      }
    }
  }
  // One proposal whose signature does not verify, and one review that does not: excluded from
  // every figure and listed, never counted silently.
  const invalid = (entry: string | undefined, reason: string) => {
    for (const r of reports) for (const p of r.provenance) if (p.entry === entry) p.status = { state: "invalid", reason };
  };
  invalid(reports.find((r) => r.ai.length)?.ai[0].entry, "signature does not verify");
  invalid(reports.flatMap((r) => r.ai).reverse().find((a) => a.review)?.review?.entry, "payload hash mismatch");
  for (const r of reports) {
    r.ai.sort((a, b) => a.time_ms - b.time_ms);
    r.provenance.sort((a, b) => a.time_ms - b.time_ms);
    r.provenance.forEach((p, i) => (p.seq = i + 1));
    const p = new Map(r.provenance.map((x) => [x.entry, x.status]));
    for (const a of r.ai) a.status = p.get(a.entry) ?? a.status;
    r.heads = [r.provenance.at(-1)!.entry];
  }

  const reviewStatus = (r: ReportView, entry: string) => r.provenance.find((p) => p.entry === entry)?.status ?? verified;
  const unverified = (s: EntryStatus) =>
    s.state === "verified" ? null : s.state === "invalid" ? `does not verify: ${s.reason}` : s.state === "refused" ? `refused by rule ${s.code}` : s.state;

  function stats(filter: Partial<AiStatsFilter>): AiStats {
    const since = filter.since ? Date.parse(`${filter.since}T00:00:00Z`) : null;
    if (filter.since && !/^\d{4}-\d{2}-\d{2}$/.test(filter.since)) {
      throw { code: "invalid_input", message: `since ${JSON.stringify(filter.since)} is not a YYYY-MM-DD date` };
    }
    type Acc = ModelStats & { edits: number[]; waits: number[]; byMonth: Map<string, MonthStats> };
    const acc = new Map<string, Acc>();
    const excluded: AiStats["excluded"] = [];
    const reportOf: Record<string, string> = {};
    for (const r of reports) {
      const study = AI_STUDIES.find((s) => s.study === r.study);
      if (filter.modality && study?.modality !== filter.modality) continue;
      for (const ai of r.ai) {
        if (filter.model && ai.model !== filter.model) continue;
        if (since !== null && ai.time_ms < since) continue;
        reportOf[ai.entry] = r.report;
        const bad = unverified(ai.status);
        if (bad) {
          excluded.push({ entry: ai.entry, kind: "ai.result", reason: bad });
          continue;
        }
        let review = ai.review;
        const badReview = review && unverified(reviewStatus(r, review.entry));
        if (review && badReview) {
          excluded.push({ entry: review.entry, kind: "ai.review", reason: badReview });
          reportOf[review.entry] = r.report;
          review = null;
        }
        const key = `${ai.model}\u0000${ai.version}`;
        if (!acc.has(key)) {
          acc.set(key, {
            model: ai.model, version: ai.version, vendor: ai.author.ai_model?.vendor ?? null, proposals: 0, accepted: 0, edited: 0,
            rejected: 0, unreviewed: 0, acceptance_rate: null, rejection_rate: null, edit_words: spread([]), review_ms: spread([]),
            reviewers: {}, results: [], unreviewed_results: [], accepted_results: [], edited_results: [], rejected_results: [],
            months: [], edits: [], waits: [], byMonth: new Map(),
          });
        }
        const a = acc.get(key)!;
        const month = new Date(ai.time_ms).toISOString().slice(0, 7);
        const mo = a.byMonth.get(month) ?? { month, proposals: 0, accepted: 0, edited: 0, rejected: 0, unreviewed: 0, acceptance_rate: null };
        a.byMonth.set(month, mo);
        a.results.push(ai.entry);
        a.proposals++;
        mo.proposals++;
        if (!review) {
          a.unreviewed++;
          mo.unreviewed++;
          a.unreviewed_results.push(ai.entry);
          continue;
        }
        const outcome = review.decision === "accept" ? "accepted" : review.decision === "edit" ? "edited" : "rejected";
        a[outcome]++;
        mo[outcome]++;
        a[`${outcome}_results`]!.push(ai.entry);
        if (outcome === "edited") a.edits.push(editWords.get(review.entry) ?? 0);
        a.waits.push(review.time_ms - ai.time_ms);
        const who = `${review.reviewer.name} (${review.reviewer.key})`;
        a.reviewers[who] = (a.reviewers[who] ?? 0) + 1;
      }
    }
    const rate = (n: number, of: number) => (of > 0 ? n / of : null);
    const models = [...acc.entries()].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)).map(([, a]): ModelStats => {
      const { edits, waits, byMonth, ...m } = a;
      const reviewed = m.accepted + m.edited + m.rejected;
      return {
        ...m,
        acceptance_rate: rate(m.accepted + m.edited, reviewed),
        rejection_rate: rate(m.rejected, reviewed),
        edit_words: spread(edits),
        review_ms: spread(waits),
        months: [...byMonth.values()].sort((x, y) => x.month.localeCompare(y.month)).map((x) => ({
          ...x, acceptance_rate: rate(x.accepted + x.edited, x.accepted + x.edited + x.rejected),
        })),
      };
    });
    const drift = models.slice(1).flatMap((to, i) => {
      const from = models[i];
      if (from.model !== to.model || from.acceptance_rate === null || to.acceptance_rate === null) return [];
      return [{
        model: to.model, from: from.version, to: to.version, acceptance_from: from.acceptance_rate,
        acceptance_to: to.acceptance_rate, change: to.acceptance_rate - from.acceptance_rate,
      }];
    });
    return { models, drift, excluded, reports: reportOf };
  }

  const rows = (): StudyRow[] => AI_STUDIES.map((s) => ({
    study: s.study, patient: s.patient, date: "20251001", modality: s.modality, description: s.description, instances: 2,
    reports: reports.filter((r) => r.study === s.study).map((r) => ({
      report: r.report, study: s.study, template: r.template, status: r.status, created_ms: r.created_ms,
      last_change_ms: r.provenance.at(-1)!.time_ms, entries: r.provenance.length, cursor: `0-${r.report}`,
    })),
  }));

  return { reports, rows, stats, editWords };
}

/** Nearest-rank percentiles and the largest value, as the app's `Spread`. */
function spread(values: number[]) {
  if (values.length === 0) return { n: 0, p50: 0, p90: 0, max: 0 };
  const v = [...values].sort((a, b) => a - b);
  const rank = (p: number) => v[Math.max(1, Math.ceil((v.length * p) / 100)) - 1];
  return { n: v.length, p50: rank(50), p90: rank(90), max: v[v.length - 1] };
}
