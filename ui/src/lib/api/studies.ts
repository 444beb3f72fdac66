// The study list, its images, and what an import brought in.

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

export interface ImportSummary {
  imported: number;
  duplicates: number;
  failed: { path: string; reason: string }[];
  /** Imported, but their pixels cannot be shown (the decoder refused them; the viewer says why). */
  undecodable: { path: string; reason: string }[];
}
