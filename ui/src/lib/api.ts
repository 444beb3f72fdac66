// The app as the UI sees it: one typed function per Tauri command. Nothing else in the UI calls
// `invoke`, and nothing here knows how the app stores or syncs anything.
import { invoke } from "@tauri-apps/api/core";
import type { MacroInfo, MacroRef } from "./autotext";
export type { MacroInfo, MacroRef } from "./autotext";
import type { ImageLink, LinkTarget } from "./links";
import { fetchPacket } from "./frame";
import { FrameRefused, FrameSocket, SocketGone } from "./framesocket";

export interface AppErrorWire {
  code: string;
  /** The refusing rule's stable code, when a rule refused an entry (REJECTION_CODES). */
  rule?: string;
  message: string;
}

export interface Identity {
  key: string;
  name: string;
  role: string;
  network: string | null;
  admin: boolean;
  /** Holds a network or was told which one to trust (an invitation): until then the app
   *  neither syncs nor listens, and asks for an invitation. */
  joined: boolean;
  /** Where the key is held: `sealed` (a file sealed under a passphrase), `keychain` (the OS
   *  keychain) or `token` (a hardware token, opened with its PIN). */
  key_store: "sealed" | "keychain" | "token";
  /** Whether unlocking asks for a passphrase or PIN (the app's answer: the UI does not decide). */
  needs_passphrase: boolean;
}

/** What opening the key asks for, in words: the token's PIN or the key's passphrase. */
export function secretName(identity: Pick<Identity, "key_store"> | null | undefined): "PIN" | "passphrase" {
  return identity?.key_store === "token" ? "PIN" : "passphrase";
}

export interface Joined {
  network: string;
  founder: string;
  invited_by: string;
  expires_ms: number;
  peers: string[];
}

export interface Status {
  home: string;
  identity: Identity | null;
  /** The home has an identity whose key is not unlocked (at start, or after the idle time). */
  locked: boolean;
  /** The key is still stored unsealed (a home from before sealed keys): unlocking seals it. */
  unsealed: boolean;
  /** The passphrase "Open demo" offers (documented in the README). */
  demo_passphrase: string;
}

export interface ReportSummary {
  report: string;
  study: string;
  template: string;
  /** `conflict`: two sign-offs in force that do not descend from each other, until an attending
   *  keeps one. `refused`: the report's creation was refused by a rule; nothing in it counts.
   *  `erased`: its personal data was erased (GDPR Art. 17); headers and signatures remain. */
  status: "draft" | "preliminary" | "final" | "amended" | "conflict" | "refused" | "withdrawn" | "erased";
  created_ms: number;
  /** The newest timestamp among the report's entries. */
  last_change_ms: number;
  entries: number;
  /** Where the next page of `report list` starts when this is a page's last line. */
  cursor: string;
  /** In a study's list: a report filed under this study and moved to another patient's — the
   *  study it is about now. Nothing else of it is shown here. */
  moved_to?: string;
}

export interface StudyRow {
  study: string;
  patient: string | null;
  date: string | null;
  modality: string | null;
  description: string | null;
  instances: number;
  reports: ReportSummary[];
}

/** A page of the study list: newest study date first; `next` is where the next page starts. */
export interface StudyPage {
  studies: StudyRow[];
  next: string | null;
}

/** Studies in a page of the study list. */
export const STUDY_PAGE = 100;

export interface ImageRef {
  sha256: string;
  series: string | null;
  series_description: string | null;
  instance_number: number | null;
  frames: number;
  /** `axial`, `coronal`, `sagittal` or `oblique`; null without a trustworthy geometry. */
  plane: string | null;
  /** mm of the slice's centre along the plane's patient axis (z axial, y coronal, x
   *  sagittal): what a prior beside it scrolls to. */
  position: number | null;
}

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
}

export interface VerifyReport {
  ok: boolean;
  entries: number;
  forks: number;
  /** Peers caught showing different histories to different peers. */
  split_views: number;
  /** Heads a peer signed that are no longer here (a deleted tail, a rollback). */
  rolled_back: number;
  problems: { entry: string; problem: string }[];
  seconds: number;
}

export interface ImportSummary {
  imported: number;
  duplicates: number;
  failed: { path: string; reason: string }[];
  /** Imported, but their pixels cannot be shown (the decoder refused them; the viewer says why). */
  undecodable: { path: string; reason: string }[];
}

/** The background sync node: connected peers, the last completed pull, addresses. */
/** A peer cut off for proof of misbehaviour, until `cut_off.until_ms`. */
export interface CutOffPeer {
  peer: string;
  name?: string;
  cut_off?: { reason: string; since_ms: number; until_ms: number; strikes: number; active: boolean };
}

export interface SyncStatus {
  peers: string[];
  last_sync_ms: number | null;
  received: number;
  listen: string[];
  /** Peers cut off now (for proof of misbehaviour; each cut-off expires). */
  cut_off: CutOffPeer[];
  /** Entries a peer sent that this home refuses by a rule or that wait: `sync status` lists them. */
  quarantined: number;
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

export type ExportFormat = "pdf" | "fhir" | "sr" | "bundle";

export interface TemplateRef {
  name: string;
  title: string;
  /** "built-in" or "imported". */
  source: string;
  sections: number;
}

/** An archive as configured in the home (`pacs list --json`). */
export interface ArchiveConfig {
  name: string;
  protocol: "dicomweb" | "dimse";
  /** DICOMweb: the base URL under which /studies is. */
  url?: string;
  /** DIMSE: AET@HOST:PORT, and the AE title this home calls itself. */
  address?: string;
  calling_aet?: string;
  /** DIMSE without C-GET: retrieved by C-MOVE, received on this port of this machine. */
  move_port?: number;
  timeout_s: number;
  store_back: boolean;
  /** DICOMweb: it is sent credentials (the user, never the password or token). */
  auth?: ArchiveAuth;
}

/** That an archive is sent credentials, and which. */
export interface ArchiveAuth {
  kind: "basic" | "bearer";
  user?: string;
  /** The operator allowed them over plain http to a host other than this machine. */
  allow_cleartext?: boolean;
}

/** Credentials to add a DICOMweb archive with: a user and password (HTTP Basic) or a token. */
export type ArchiveLoginInput =
  | { user: string; password: string; allowCleartext?: boolean }
  | { token: string; allowCleartext?: boolean };

/** What `pacs_test` found: the round trip of a C-ECHO or a one-study QIDO-RS search. */
export interface ArchiveTest {
  archive: string;
  protocol: string;
  rtt_ms: number;
}

/** A study on an archive, and where this department stands on it. */
export interface WorklistRow {
  archive: string;
  study: string;
  patient: string | null;
  patient_id: string | null;
  /** YYYYMMDD. */
  date: string | null;
  modalities: string[];
  description: string | null;
  accession: string | null;
  /** What the archive says it holds, when it says. */
  instances: number | null;
  /** Instances already in this home's image store. */
  local_instances: number;
  /** `none`, or the state of this department's most advanced report on it. */
  report: string;
  /** Set when the archive did not answer: the row is its last answer, of this time. */
  archive_answered_ms?: number;
  /** With `archive_answered_ms`: why (pacs_unreachable, pacs_timeout, pacs_unauthorized). */
  archive_error?: string;
}

/** How one archive answered the worklist's search. */
export interface ArchiveAnswer {
  archive: string;
  /** `answered` now; `kept`: it did not answer (or refused the credentials), its last list is
   * shown; `unreachable`: nothing kept; `unauthorized`: it refused the credentials, nothing kept;
   * `locked`: its credentials wait for the key to be unlocked. */
  state: "answered" | "kept" | "unreachable" | "unauthorized" | "locked";
  answered_ms?: number;
  /** With `kept`: why its list is not today's (the error's code). */
  reason?: string;
  error?: AppErrorWire;
}

export interface Worklist {
  rows: WorklistRow[];
  archives: ArchiveAnswer[];
}

/** One of a patient's other studies (`priors`): on an archive, here, or both. */
export interface PriorStudy {
  study: string;
  patient_id: string;
  /** YYYYMMDD. */
  date: string | null;
  /** Comma-separated. */
  modality: string | null;
  description: string | null;
  local: boolean;
  local_instances: number;
  /** The archive that listed it (null: only here). */
  archive: string | null;
  /** `none`, or this department's most advanced report state on it. */
  report: string;
}

export interface Priors {
  priors: PriorStudy[];
  archives: ArchiveAnswer[];
}

/** A `retrieve-progress` event. Instances are stored as they arrive: `first-image` once, as soon
 *  as the first is stored (the study can be opened; its image list grows as `stored` does). */
export interface RetrieveProgress {
  study: string;
  phase: "retrieving" | "first-image" | "done";
  /** Received so far. */
  instances: number;
  bytes: number;
  total: number | null;
  /** Stored so far, listed by `study_images`. */
  stored: number;
}

export interface Retrieval {
  archive: string;
  study: string;
  instances: number;
  bytes: number;
  duplicates: number;
  refused: { path: string; reason: string }[];
  undecodable: { path: string; reason: string }[];
  /** Milliseconds from asking the archive to the first instance stored (the study opened then). */
  first_stored_ms?: number;
}

export interface DemoArchiveSummary {
  archive: string;
  url: string;
  studies: string[];
  instances: number;
  seconds: number;
}

/** Whether this machine can start a demo archive (Orthanc installed), and the one running. */
export interface DemoArchiveStatus {
  available: boolean;
  running: DemoArchiveSummary | null;
}

/** Someone's signed act on a prior's report: who, and when (their clock). */
export interface PriorSigned {
  author: Author;
  time_ms: number;
}

/** A prior study's report, as `prior_report` finds it (`countersign prior-report --json`):
 *  this home's own report on it (`ledger`), else the newest report instance on the archives —
 *  an SR read as text (`archive-sr`) or an Encapsulated PDF written to a file in the home
 *  (`archive-pdf`); a measurement SR only when there is no other —, else `none`. */
export type PriorReport = { study: string } & (
  | {
      source: "ledger";
      report: string;
      status: ReportSummary["status"];
      template: string;
      template_title: string;
      created_by: Author;
      created_ms: number;
      /** The template's sections in order; `text` null when unwritten, unreadable or in conflict. */
      sections: {
        name: string;
        title: string;
        text: string | null;
        /** Who wrote the version the report reads as. */
        written: PriorSigned | null;
        cosigned: PriorSigned[];
      }[];
      /** The sign-off in force, when exactly one is. */
      signoff: PriorSigned | null;
      addenda: { author: Author; time_ms: number; text: string | null }[];
      /** Sealed under a key this home does not hold: who and when are shown, not the text. */
      unreadable: boolean;
      /** This home holds the key, locked: unlocking reads the text. */
      locked: boolean;
      /** Processing restricted (GDPR Art. 18): no content. */
      restricted: boolean;
      /** Other reports this home holds on the study (the one shown is the furthest read). */
      other_reports: number;
    }
  | {
      source: "archive-sr";
      archive: string;
      series: string;
      instance: string;
      sop_class: string;
      title: string | null;
      /** An Imaging Measurement Report (TID 1500, as AI tools write), not a reader's report:
       *  shown only when the archives hold no other report of the study. */
      measurement: boolean;
      /** Content Date, YYYYMMDD, and Time. */
      date: string | null;
      time: string | null;
      /** COMPLETE / PARTIAL. */
      completion: string | null;
      /** VERIFIED / UNVERIFIED. */
      verification: string | null;
      /** PRELIMINARY / FINAL, when the SR says. */
      preliminary: string | null;
      authors: string[];
      verifiers: { name: string; organization: string | null; datetime: string | null }[];
      manufacturer: string | null;
      /** The content tree in document order: depth 1 under the title; a CONTAINER is a heading. */
      lines: { depth: number; value_type: string; concept: string | null; value: string }[];
      /** Other report instances (SRs, PDFs) the archives hold for the study. */
      others: number;
    }
  | {
      source: "archive-pdf";
      archive: string;
      series: string;
      instance: string;
      title: string | null;
      date: string | null;
      time: string | null;
      /** The PDF, written in the home for the desktop's PDF viewer to open. */
      path: string;
      bytes: number;
      others: number;
    }
  | { source: "none" }
);

/** Calls `onProgress` with each `retrieve-progress` event of `study` until the returned function
 *  is called: the app's events in the app; in the mock build, the window's events of that name. */
async function onRetrieveProgress(study: string, onProgress: (p: RetrieveProgress) => void): Promise<() => void> {
  if (import.meta.env.MODE === "mock" || !("__TAURI_INTERNALS__" in window)) {
    const handler = (e: Event) => {
      const p = (e as CustomEvent<RetrieveProgress>).detail;
      if (p.study === study) onProgress(p);
    };
    window.addEventListener("retrieve-progress", handler);
    return () => window.removeEventListener("retrieve-progress", handler);
  }
  const { listen } = await import("@tauri-apps/api/event");
  return listen<RetrieveProgress>("retrieve-progress", (e) => {
    if (e.payload.study === study) onProgress(e.payload);
  });
}

/** An error from a command, with its stable code (see ERROR_CODES in countersign-app) and, when
 *  a rule refused an entry, that rule's code. */
export class CommandError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly rule: string | null = null,
  ) {
    super(message);
  }
}

/** A profiler's hook (`make bench-app` sets it in the page to see which commands were in flight
 *  while the first image waited): told each command's name, when it was asked and when its
 *  answer was taken in. Unset, nothing is measured. */
type Trace = (cmd: string, asked: number, answered: number) => void;

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  const trace = (globalThis as { __countersignTrace?: Trace }).__countersignTrace;
  const asked = trace ? performance.now() : 0;
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    const wire = e as Partial<AppErrorWire>;
    if (wire && typeof wire === "object" && typeof wire.code === "string") {
      throw new CommandError(wire.code, wire.message ?? wire.code, typeof wire.rule === "string" ? wire.rule : null);
    }
    throw new CommandError("internal", String(e));
  } finally {
    trace?.(cmd, asked, performance.now());
  }
}

/** The app's frame socket, once asked for: null in the mock build, when the app has none, or
 *  with `?ipc` in the page's address (the bench compares the two transports). */
let frameSocket: Promise<FrameSocket | null> | null = null;
function socketForFrames(): Promise<FrameSocket | null> {
  if (!frameSocket) {
    const off = import.meta.env.MODE === "mock" || !("__TAURI_INTERNALS__" in window) ||
      new URLSearchParams(location.search).has("ipc");
    frameSocket = off ? Promise.resolve(null) : call<string | null>("frame_socket")
      .then((url) => (url ? new FrameSocket(url) : null), () => null);
  }
  return frameSocket;
}

/** How the last frame came: `socket` or `command` (the viewer shows it to the tests, which
 *  check the real window uses the socket). */
export let frameTransport: "socket" | "command" | null = null;

/** Asks the frame socket when it can be used (`null` otherwise: the caller asks the command).
 *  The app's refusal comes back as the command's would; a failure of the socket itself sends
 *  this frame, and every later one, through the command. */
async function overSocket(sha256: string, frame: number, fit?: [number, number]): Promise<Uint8Array | null> {
  const socket = await socketForFrames();
  if (!socket?.usable) return null;
  const trace = (globalThis as { __countersignTrace?: Trace }).__countersignTrace;
  const asked = trace ? performance.now() : 0;
  try {
    const packet = await socket.get(sha256, frame, fit);
    frameTransport = "socket";
    return packet;
  } catch (e) {
    if (e instanceof FrameRefused) throw new CommandError(e.code, e.message);
    if (!(e instanceof SocketGone)) throw e;
    return null;
  } finally {
    trace?.(fit ? "frame_preview (socket)" : "frame (socket)", asked, performance.now());
  }
}

/** A frame packet: over the frame socket when it can be used, else through the `frame` command
 *  (in parts). With `part0` in hand (a first look that was not reduced) only what is missing. */
async function framePacket(sha256: string, frame: number, part0?: Uint8Array): Promise<Uint8Array> {
  const packet = part0 ? null : await overSocket(sha256, frame);
  if (packet) return packet;
  let asked = false;
  const whole = await fetchPacket(async (part) => {
    asked = true;
    return new Uint8Array(await call<ArrayBuffer>("frame", { sha256, frame, part }));
  }, part0);
  // A whole packet already in hand (a first look that was not reduced) asks nothing more.
  if (asked) frameTransport = "command";
  return whole;
}

export const api = {
  status: () => call<Status>("status"),
  /** Opens the key with its passphrase for this session (until the idle lock). */
  /** Opens the key: with the passphrase, or `null` for a key in the OS keychain. */
  unlock: (passphrase: string | null) => call<Identity>("unlock", { passphrase }),
  /** Tells the app the user did something (input, `agoMs` before now), for its idle lock. */
  activity: (agoMs = 0) => call<null>("activity", { agoMs: Math.max(0, Math.round(agoMs)) }),
  /** Wipes the key from memory now. */
  lock: () => call<null>("lock"),
  /** `store`: `sealed` (under `passphrase`) or `keychain` (the OS keychain; no passphrase). */
  initIdentity: (name: string, role: string, admin: boolean, network: string | undefined, store: "sealed" | "keychain",
    passphrase: string | null) =>
    call<Identity>("init_identity", { name, role, admin, network: network ?? null, store, passphrase }),
  openDemo: (passphrase: string) => call<{ report: string; study: string }>("open_demo", { passphrase }),
  /** Joins the department an admin's invitation names (made for this home's key). */
  join: (invitation: string) => call<Joined>("join", { invitation }),
  /** A page of the study list: the first, or the one starting at `after` (a page's `next`). */
  studies: (after: string | null = null, limit: number = STUDY_PAGE) => call<StudyPage>("studies", { after, limit }),
  /** The app opens its own dialog and imports what the user picked (null: cancelled). */
  importPick: (directory: boolean) => call<ImportSummary | null>("import_pick", { directory }),
  /** Imports what the window's drop event named, kept by the app (null: nothing waiting). */
  importDropped: () => call<ImportSummary | null>("import_dropped"),
  studyImages: (study: string) => call<ImageRef[]>("study_images", { study }),
  /** A frame packet: raw bytes (see frame.ts), never a JSON array: over the app's frame socket
   *  (one message), else through the `frame` command in parts. */
  frame: (sha256: string, frame: number, part0?: Uint8Array) => framePacket(sha256, frame, part0),
  /** A first look for a viewport of `width × height`: a reduced packet (its header says
   *  `reduced`) for a frame larger than the viewport, else the frame's packet — whole over the
   *  frame socket, its part 0 through the `frame_preview` command (`frame` takes it as `part0`). */
  framePreview: async (sha256: string, frame: number, width: number, height: number) => {
    const packet = await overSocket(sha256, frame, [width, height]);
    if (packet) return packet;
    const first = new Uint8Array(await call<ArrayBuffer>("frame_preview", { sha256, frame, width, height }));
    frameTransport = "command";
    return first;
  },
  templates: () => call<TemplateRef[]>("templates"),
  reportShow: (report: string) => call<ReportView>("report_show", { report }),
  /** What this user may do on the report now: ask again whenever the report is (re)loaded. */
  reportActions: (report: string) => call<ReportActions>("report_actions", { report }),
  reportNew: (study: string, template: string) => call<string>("report_new", { study, template }),
  /** Unsigned text kept in the home for a report's sections. */
  drafts: (report: string) => call<Record<string, string>>("drafts", { report }),
  /** Keeps a section's unsigned text (`null` drops it). */
  saveDraft: (report: string, section: string, text: string | null) =>
    call<null>("draft_save", { report, section, text }),
  signSection: (report: string, section: string, text: string, fields: Record<string, string> = {}, macros: MacroRef[] = []) =>
    call<string>("sign_section", { report, section, text, fields, macros }),
  /** The AutoText macros that apply to a section of the report (palette, name expansion). */
  sectionMacros: (report: string, section: string) => call<MacroInfo[]>("section_macros", { report, section }),
  cosignSection: (report: string, section: string) =>
    call<string>("cosign_section", { report, section }),
  /** Signing off asks for the passphrase again: without one the app answers `reauth_required`. */
  finalize: (report: string, passphrase: string | null) => call<string>("finalize_report", { report, passphrase }),
  /** Settles a conflict: keeps the sign-off `keep`; the others stay in the record, superseded. */
  resolve: (report: string, keep: string, note: string) => call<string>("report_resolve", { report, keep, note }),
  preliminary: (report: string) => call<string>("mark_preliminary", { report }),
  addendum: (report: string, text: string) => call<string>("add_addendum", { report, text }),
  /** Signs a length; the app computes it from the image's own Pixel Spacing. */
  measureLength: (report: string, image: string, frame: number, from: [number, number], to: [number, number]) =>
    call<string>("measure_length", { report, image, frame, from, to }),
  /** Inserts a link into a section: signs a new version whose text (`text`, else the draft,
   *  else the signed text) ends with the link's `[fig N]` marker. */
  /** Inserts a link's `[fig N]` into `text` (the draft when null) `at` that many characters
   *  (appended when null). */
  linkInsert: (report: string, section: string, target: LinkTarget, text: string | null = null, at: number | null = null) =>
    call<{ entry: string; link: ImageLink }>("report_link", { report, section, target, text, at }),
  /** A read receipt; `null` when one was signed recently (receipts are batched). */
  markViewed: (report: string, sections: string[]) =>
    call<string | null>("mark_viewed", { report, sections }),
  reviewAi: (report: string, result: string, decision: "accept" | "edit" | "reject", text?: string, comment?: string) =>
    call<string>("review_ai", { report, result, decision, text: text ?? null, comment: comment ?? null }),
  /** Writes the report as pdf, fhir (R4 Bundle), sr (DICOM) or bundle (audit archive) through a
   *  save dialog the app opens itself (the webview names no path); null when the user cancels. */
  exportReport: (report: string, format: ExportFormat) =>
    call<{ path: string; bytes: number } | null>("export_report", { report, format }),
  /** Erases the report's personal data on the legal `basis`; cannot be undone, so the app asks
   *  for the passphrase again (`reauth_required` without one), as for a final sign-off. */
  erase: (report: string, basis: string, passphrase: string | null) =>
    call<DataProtectionOutcome>("report_erase", { report, basis, passphrase }),
  /** Restricts the report's processing (`restricted` true) or lifts the restriction. */
  restrict: (report: string, basis: string, restricted: boolean) =>
    call<DataProtectionOutcome>("report_restrict", { report, basis, restricted }),
  /** Whether this user may erase or restrict a whole patient's data. */
  dataProtectionActions: () => call<DataProtectionActions>("data_protection_actions"),
  /** What erasing the patient of `study` would cover: Patient ID, studies, reports. */
  patientScope: (study: string) => call<PatientScope>("patient_scope", { study }),
  /** Erases every report of the patient; asks for the passphrase again, as `erase` does. */
  erasePatient: (patientId: string, basis: string, passphrase: string | null) =>
    call<DataProtectionOutcome>("patient_erase", { patientId, basis, passphrase }),
  /** The other patients' studies `report` may be moved to. */
  moveTargets: (report: string) => call<MoveTarget[]>("move_targets", { report }),
  /** Moves the report to `study` of the patient `patientId`, for `reason`. */
  moveReport: (report: string, patientId: string, study: string, reason: string) =>
    call<string>("report_move", { report, patientId, study, reason }),
  syncStatus: () => call<SyncStatus>("sync_status"),
  /** Remembers a peer (a multiaddr ending in /p2p/<id>) and dials it; the peers remembered. */
  syncAddPeer: (addr: string) => call<string[]>("sync_add_peer", { addr }),
  verify: (report: string | null) => call<VerifyReport>("verify", { report }),
  /** The AI reviewer's figures per model and version (what `ai stats --json` gives). */
  aiStats: (filter: AiStatsFilter) =>
    call<AiStats>("ai_stats", { model: filter.model || null, since: filter.since || null, modality: filter.modality || null }),
  /** The archives this home knows. */
  pacsList: () => call<ArchiveConfig[]>("pacs_list"),
  /** Adds an archive: a DICOMweb URL, or a DIMSE AET@HOST:PORT with the AE title to call as. */
  /** Adds an archive; with `storeBack`, signed-off reports (and addenda) are sent there. */
  /** With `login` (DICOMweb), the credentials are sealed by the app and sent with every request. */
  pacsAdd: (name: string, endpoint: { dicomweb: string } | { dimse: string; callingAet: string | null; movePort?: number | null }, storeBack = false,
    login: ArchiveLoginInput | null = null) =>
    call<ArchiveConfig>("pacs_add", { name, dicomweb: null, dimse: null, callingAet: null, movePort: null, ...endpoint, storeBack, login }),
  pacsRemove: (name: string) => call<null>("pacs_remove", { name }),
  /** Whether the archive answers, with the round trip. */
  pacsTest: (name: string) => call<ArchiveTest>("pacs_test", { name }),
  /** The worklist of every archive (or one): rows, and how each archive answered. */
  worklist: (archive: string | null = null) => call<Worklist>("worklist", { archive, modality: null, since: null }),
  /** Retrieves a study into the image store; `onProgress` hears its progress until it ends. */
  /** The other studies of `study`'s patient, newest first, here and on every archive. */
  priors: (study: string) => call<Priors>("priors", { study }),
  retrieve: async (archive: string, study: string, patientId: string | null, onProgress: (p: RetrieveProgress) => void) => {
    const stop = await onRetrieveProgress(study, onProgress);
    try {
      return await call<Retrieval>("retrieve", { archive, study, patientId });
    } finally {
      stop();
    }
  },
  /** Follows the retrievals of `study` (whoever started them) until the returned function is called. */
  onRetrieveProgress,
  /** The report of a prior `study`: this home's own, else the archive's SR or PDF (`archive`,
   *  else every configured one), else none. */
  priorReport: (study: string, archive: string | null = null, patientId: string | null = null) =>
    call<PriorReport>("prior_report", { study, archive, patientId }),
  /** Opens a prior's PDF report (saved by `priorReport`, named by its SOP Instance UID) in the
   *  system's PDF viewer. */
  openPriorPdf: (instance: string) => call<null>("open_prior_pdf", { instance }),
  demoArchiveStatus: () => call<DemoArchiveStatus>("demo_archive_status"),
  /** Starts a local Orthanc seeded with phantom studies, added as the archive `demo`. */
  demoArchiveStart: () => call<DemoArchiveSummary>("demo_archive_start"),
  demoArchiveStop: () => call<null>("demo_archive_stop"),
};
