// Archives (PACS): configuration, worklist, priors, retrieval and the demo archive.
import type { AppErrorWire } from "./session";
import type { Author } from "./reports";
import type { ReportSummary } from "./studies";

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
  /** Its Issuer of Patient ID (null: unknown); one of another known issuer is never listed. */
  issuer?: string | null;
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
