// AI results in a report and the AI reviewer's figures.
import type { Author, EntryStatus } from "./reports";

export interface AiView {
  entry: string;
  author: Author;
  time_ms: number;
  model: string;
  version: string;
  inputs: string[];
  parameters: Record<string, string>;
  outputs: Record<string, string>;
  section: string;
  text: string;
  review: { entry: string; reviewer: Author; time_ms: number; decision: "accept" | "edit" | "reject"; comment: string | null } | null;
  /** Set for an AI result received as DICOM SR (`ai.received`): `author` attested its receipt. */
  received?: ReceivedSr;
  status: EntryStatus;
}

/** An AI result received as DICOM SR, as the receiving member attested it. */
export interface ReceivedSr {
  /** "received as DICOM SR from <device> <version>, attested by <member>". */
  statement: string;
  /** The device in words: "<manufacturer> <model> <version>". */
  source: string;
  sr_sha256: string;
  sop_instance: string;
  device: { manufacturer: string; model: string; software_versions: string[]; serial?: string; observer?: Record<string, string> };
  measurements: { concept: SrCode; value: string; units?: SrCode; references: string[] }[];
  findings: { concept: SrCode; value: SrCode; references: string[] }[];
}

export interface SrCode {
  value: string;
  scheme: string;
  meaning: string;
}

/** Percentiles of a distribution (nearest rank) and its largest value, as the app computed them. */
export interface Spread {
  n: number;
  p50: number;
  p90: number;
  max: number;
}

/** One month of one model version's record (`ModelStats.months`). */
export interface MonthStats {
  /** "YYYY-MM" (UTC). */
  month: string;
  proposals: number;
  accepted: number;
  edited: number;
  rejected: number;
  unreviewed: number;
  acceptance_rate: number | null;
}

/** One model version's record, as `countersign ai stats --json` gives it. */
export interface ModelStats {
  model: string;
  version: string;
  vendor: string | null;
  proposals: number;
  accepted: number;
  edited: number;
  rejected: number;
  unreviewed: number;
  /** (accepted + edited) / reviewed; null before any review. */
  acceptance_rate: number | null;
  rejection_rate: number | null;
  /** Words changed by edits (proposal → signed text). */
  edit_words: Spread;
  /** Milliseconds from proposal to review. */
  review_ms: Spread;
  /** Reviews per reviewer, keyed "name (key)". */
  reviewers: Record<string, number>;
  /** Every counted proposal (entry ids). */
  results: string[];
  unreviewed_results: string[];
  /** The entries behind each outcome (absent from apps that do not give them yet). */
  accepted_results?: string[];
  edited_results?: string[];
  rejected_results?: string[];
  /** Month by month, ascending (absent from apps that do not give it yet). */
  months?: MonthStats[];
}

/** A change in acceptance between two consecutive versions of one model. */
export interface Drift {
  model: string;
  from: string;
  to: string;
  acceptance_from: number;
  acceptance_to: number;
  /** acceptance_to − acceptance_from. */
  change: number;
}

/** An entry left out of every figure because it does not verify, and why. */
export interface Excluded {
  entry: string;
  kind: string;
  reason: string;
}

export interface AiStats {
  models: ModelStats[];
  drift: Drift[];
  excluded: Excluded[];
  /** The report of every proposal and excluded entry (absent from apps that do not give it yet). */
  reports?: Record<string, string>;
}

/** What the AI oversight view asks for: empty means every model, date or modality. */
export interface AiStatsFilter {
  model: string | null;
  /** YYYY-MM-DD (UTC midnight). */
  since: string | null;
  modality: string | null;
}
