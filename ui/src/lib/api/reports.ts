// A report as the app shows it: authors, sections, sign-offs, notes, and what may be done on it.
import type { MacroRef } from "../autotext";
import type { ImageLink } from "../links";
import type { AiView } from "./ai";
import type { ReportSummary } from "./studies";

export interface AiModel {
  vendor: string;
  model: string;
  version: string;
}

export interface Author {
  key: string;
  /** The person's name now (for a rotated key, the name of the person's current key). */
  name: string;
  role: string | null;
  ai_model?: AiModel | null;
  /** For a person who rotated their key: which of their keys signed. Absent otherwise. */
  person?: PersonKey | null;
  /** In a report's view, the name the key signed this entry under, where the roster has
   *  renamed it since (a rename never rewrites who signed). Absent otherwise. */
  name_then?: string | null;
  /** Every other name the roster has given the key, oldest first (absent when none). */
  formerly?: string[];
}

/** Where a key stands among the keys of one person, as the app's roster says (the UI shows
 *  it; it never works it out). */
export interface PersonKey {
  /** This is key `number` of the person's `keys`, oldest first. */
  number: number;
  keys: number;
  /** The person's key now. */
  current: string;
  /** When a rotation brought this key in (the rotation entry's date: shown, never judged). */
  rotated_ms?: number | null;
  /** Whether that rotation replaced a lost key (an admin alone). */
  replaced_lost_key: boolean;
  /** When this key was itself rotated away. */
  retired_ms?: number | null;
}

/** How an entry stands when re-checked: verified, fork, erased, invalid with a reason, or
 *  refused — authentic, but a rule (its stable `code`) refuses it, so it counts for nothing. */
export interface EntryStatus {
  state: "verified" | "fork" | "erased" | "invalid" | "refused";
  reason?: string;
  code?: string;
}

export interface Cosign {
  entry: string;
  author: Author;
  time_ms: number;
  status: EntryStatus;
}

export interface Version {
  entry: string;
  author: Author;
  time_ms: number;
  text: string | null;
  /** Structured field values of this version, by field name. */
  fields: Record<string, string>;
  status: EntryStatus;
  cosigns: Cosign[];
  /** The AutoText macros the version says its text was built from. */
  macros?: MacroRef[];
  /** The version's links to images, each referred to from `text` by its `[fig N]`. */
  links?: ImageLink[];
}

/** A structured field of a section (from the report's template) with its current value. */
export interface Field {
  name: string;
  label: string;
  type: "text" | "pick" | "number" | "date";
  options?: string[];
  unit?: string;
  min?: number;
  max?: number;
  required: boolean;
  value: string | null;
  /** The value as a reader sees it (a number with its unit). */
  display: string | null;
}

export interface Section {
  name: string;
  title: string;
  text: string | null;
  cosign_role: string | null;
  /** Must be written before final sign-off. */
  required: boolean;
  fields: Field[];
  versions: Version[];
  /** The version `text` is, if the report reads as one. */
  current: string | null;
  signed_off_version: string | null;
  /** In a conflict, the different versions the sign-offs in force cover (then `text` is null). */
  conflicting_versions?: string[];
  /** Before sign-off: more than one newest version, written concurrently. */
  concurrent: boolean;
}

/** An accepted final sign-off: the version of each section it covers, and whether it is in
 *  force (false once an attending's resolution kept another). */
export interface Signoff {
  entry: string;
  author: Author;
  time_ms: number;
  status: EntryStatus;
  sections: Record<string, string>;
  in_force: boolean;
}

/** An attending's resolution of a conflict: the sign-off kept, and why. */
export interface Resolution {
  entry: string;
  author: Author;
  time_ms: number;
  keep: string;
  note: string;
  status: EntryStatus;
}

export interface ProvenanceItem {
  entry: string;
  kind: string;
  author: Author;
  seq: number;
  time_ms: number;
  parents: string[];
  section?: string;
  status: EntryStatus;
  /** For a section version: the AutoText macros its text was built from. */
  macros?: MacroRef[];
}

export interface Addendum {
  entry: string;
  author: Author;
  time_ms: number;
  text: string | null;
  status: EntryStatus;
}

export interface Measurement {
  entry: string;
  author: Author;
  time_ms: number;
  image: string;
  frame: number;
  /** Image pixel coordinates in thousandths of a pixel. */
  from: [number, number];
  to: [number, number];
  /** Micrometres ("um"), or thousandths of a pixel when uncalibrated ("mpx"). */
  length: number;
  unit: "um" | "mpx";
  status: EntryStatus;
}

export interface Critical {
  entry: string;
  author: Author;
  time_ms: number;
  finding: string;
  to: string;
  via: "phone" | "in-person" | "message";
  communicated_ms: number;
  read_back: boolean;
  status: EntryStatus;
}

export interface Followup {
  entry: string;
  author: Author;
  time_ms: number;
  finding: string;
  due: string;
  closed: { entry: string; author: Author; time_ms: number; study: string } | null;
  status: EntryStatus;
}

export interface ReportView {
  report: string;
  study: string;
  template: string;
  template_title: string;
  images: string[];
  status: ReportSummary["status"];
  created_by: Author;
  created_ms: number;
  sections: Section[];
  /** The sign-off in force, when exactly one is. */
  signoff: Signoff | null;
  /** Every accepted sign-off, in force or superseded; two or more in force are a conflict. */
  signoffs: Signoff[];
  /** Final sign-offs held that a rule refuses (their rule in `status`); with no other sign-off
   *  the report is "withdrawn". */
  refused_signoffs: Signoff[];
  resolutions: Resolution[];
  addenda: Addendum[];
  measurements: Measurement[];
  critical: Critical[];
  followups: Followup[];
  ai: AiView[];
  reads: { entry: string; author: Author; time_ms: number; sections: string[]; status: EntryStatus }[];
  heads: string[];
  provenance: ProvenanceItem[];
  /** Keys this home holds split-view evidence against for this report's log (two signed
   *  claims about it that do not agree), each named as the roster names them. */
  split_views?: SplitViewNote[];
  /** Who erased the report's personal data, when, on which basis (absent: not erased). */
  erasure?: DataProtectionNote;
  /** The report is sealed under a data key this home does not hold (a ciphertext-only
   *  bundle): its headers verify, its content is not readable here (absent: readable). */
  unreadable?: boolean;
  /** Not readable because this home's key is locked (it holds the report's key, sealed
   *  under the member's key): unlocking reads it. */
  locked?: boolean;
  /** Created sealed; false: created in clear (its text is stored in clear). */
  sealed?: boolean;
  /** The restriction in force (GDPR Art. 18): the view then carries no content. */
  restriction?: DataProtectionNote;
  /** Every accepted restriction and lifting, in log order (`restricted` says which). */
  restrictions?: DataProtectionNote[];
  /** Corrections of whom the report is about (filed under the wrong patient), oldest first. */
  moves?: MoveNote[];
  /** Every signed record that a signed-off version reached an archive (`report.delivered`). */
  deliveries?: DeliveryNote[];
  /** Every signed record that the report's instances were rejected (an IOCM rejection note)
   *  in a study it was moved away from: a `report.delivered` with `rejection_note`. */
  rejections?: DeliveryNote[];
}

/** A `report.delivered`: where a signed-off version was stored, by whom, as which instances. */
export interface DeliveryNote {
  entry: string;
  by: Author;
  time_ms: number;
  archive: string;
  version: string;
  study: string;
  sop_instances: string[];
  /** For a rejection: the rejection note's SOP Instance UID (it rejects `sop_instances`). */
  rejection_note?: string;
}

/** An erasure or a restriction, as the app's view names it. */
export interface DataProtectionNote {
  entry: string;
  by: Author;
  time_ms: number;
  basis: string;
  /** An erasure's scope: every report of the patient, or this one. */
  scope?: "report" | "patient";
  /** A restriction's direction: restricts (true) or lifts one (false). */
  restricted?: boolean;
}

/** A `report.move`: moved from one study (and its patient) to another. */
export interface MoveNote {
  entry: string;
  by: Author;
  time_ms: number;
  from: string;
  to: string;
  reason: string;
}

export interface SplitViewNote {
  signer: Author;
  reason: string;
}

/** Whether one action would be accepted now, judged by the app's rules for this user; when
 *  not, the refusing rule's stable code and why, in words. */
export interface Allowed {
  allowed: boolean;
  rule?: string;
  reason?: string;
}

/** Everything the report editor offers, each judged for this home's identity (report_actions). */
export interface ReportActions {
  /** Writing a new version of each section, by section name. */
  write: Record<string, Allowed>;
  /** Co-signing each section's current version (sections that have one). */
  cosign: Record<string, Allowed>;
  /** Marking the report preliminary. */
  preliminary: Allowed;
  finalize: Allowed;
  addendum: Allowed;
  /** Keeping each sign-off in force, by its entry id (offered in a conflict). */
  resolve: Record<string, Allowed>;
  /** Reviewing each AI result not yet reviewed, by its entry id. */
  review: Record<string, Allowed>;
  /** Erasing the report's personal data (payload.erase, GDPR Art. 17). */
  erase: Allowed;
  /** Restricting its processing (report.restrict, GDPR Art. 18). */
  restrict: Allowed;
  /** Lifting the restriction in force. */
  lift: Allowed;
  /** Moving the report to another patient's study (report.move: filed under the wrong patient). */
  move: Allowed;
}

/** What this user may do on a whole patient's data (the app's answer from the roster role). */
export interface DataProtectionActions {
  erase_patient: Allowed;
  restrict_patient: Allowed;
}

/** What erasing a patient would cover here, as the app counts it (patient_scope). */
export interface PatientScope {
  patient_id: string;
  /** The Issuer of Patient ID of the studies covered (null: none recorded): an ID is unique per issuer. */
  issuer: string | null;
  /** Other issuers under which studies here carry the same ID (other people, perhaps): left alone. */
  other_issuers: (string | null)[];
  patient: string | null;
  studies: string[];
  reports: string[];
  /** How many of `reports` are erased already. */
  erased: number;
}

/** A study of another patient a report may be moved to (move_targets). */
export interface MoveTarget {
  study: string;
  patient_id: string;
  patient: string | null;
  date: string | null;
  modality: string | null;
  description: string | null;
  instances: number;
}

/** What an erasure or a restriction signed: the reports acted on, one entry each. */
export interface DataProtectionOutcome {
  reports: string[];
  entries: string[];
  /** A patient's erasure: every study of theirs held here, whose images are now destroyed. */
  studies: string[];
}

export type ExportFormat = "pdf" | "fhir" | "sr" | "bundle";

export interface TemplateRef {
  name: string;
  title: string;
  /** "built-in" or "imported". */
  source: string;
  sections: number;
}
