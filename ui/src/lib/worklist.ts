// The Worklist view's pure parts: sorting by a column, filtering, and the words shown for an
// archive's state, dates, sizes and a retrieval's progress. No I/O here (see Worklist.svelte).
import type { ArchiveAnswer, RetrieveProgress, WorklistRow } from "./api";

export type SortKey = "patient" | "date" | "modality" | "description" | "accession" | "instances" | "report";

export interface Sort {
  key: SortKey;
  /** Ascending when true. */
  up: boolean;
}

/** The order of report states: what is left to read first when sorting up. */
const STATE_ORDER = ["none", "draft", "preliminary", "conflict", "withdrawn", "final", "amended"];

/** The value a row is sorted on for a column (absent values sort last either way). */
function sortValue(row: WorklistRow, key: SortKey): string | number | null {
  switch (key) {
    case "patient":
      return row.patient?.toLowerCase() ?? null;
    case "date":
      return row.date ?? null;
    case "modality":
      return row.modalities.length ? row.modalities.join("/") : null;
    case "description":
      return row.description?.toLowerCase() ?? null;
    case "accession":
      return row.accession ?? null;
    case "instances":
      return row.instances ?? null;
    case "report": {
      const i = STATE_ORDER.indexOf(row.report);
      return i < 0 ? STATE_ORDER.length : i;
    }
  }
}

/** The rows sorted by one column; ties keep the newest study first, then by UID (stable). */
export function sortRows(rows: readonly WorklistRow[], sort: Sort): WorklistRow[] {
  const dir = sort.up ? 1 : -1;
  return [...rows].sort((a, b) => {
    const x = sortValue(a, sort.key);
    const y = sortValue(b, sort.key);
    if (x !== y) {
      if (x === null) return 1;
      if (y === null) return -1;
      return (x < y ? -1 : 1) * dir;
    }
    const dates = (b.date ?? "").localeCompare(a.date ?? "");
    return dates || a.study.localeCompare(b.study) || a.archive.localeCompare(b.archive);
  });
}

/** A click on a column header: that column, ascending — or, clicked again, the other way. */
export function toggleSort(sort: Sort, key: SortKey): Sort {
  return sort.key === key ? { key, up: !sort.up } : { key, up: key !== "date" };
}

export interface Filter {
  /** Matched, ignoring case, in the patient's name and ID, description, accession and UID. */
  text: string;
  /** One modality, or "" for all. */
  modality: string;
  /** YYYY-MM-DD (or YYYYMMDD); "" — or a date not typed in full yet — for any date. */
  since: string;
}

export const NO_FILTER: Filter = { text: "", modality: "", since: "" };

/** The rows the filter keeps. A study without a date is kept only without `since`. */
export function filterRows(rows: readonly WorklistRow[], filter: Filter): WorklistRow[] {
  const words = filter.text.toLowerCase().split(/\s+/).filter(Boolean);
  const since = sinceComplete(filter.since) ? filter.since.trim().replaceAll("-", "") : "";
  return rows.filter((row) => {
    if (filter.modality && !row.modalities.includes(filter.modality)) return false;
    if (since && !(row.date && row.date >= since)) return false;
    const hay = [row.patient, row.patient_id, row.description, row.accession, row.study]
      .filter(Boolean).join(" ").toLowerCase();
    return words.every((w) => hay.includes(w));
  });
}

/** Whether a typed date is whole (YYYY-MM-DD or YYYYMMDD): only then does it filter. */
export function sinceComplete(since: string): boolean {
  return /^\d{4}-?\d{2}-?\d{2}$/.test(since.trim());
}

/** The modalities present, for the filter's choices. */
export function modalitiesOf(rows: readonly WorklistRow[]): string[] {
  return [...new Set(rows.flatMap((r) => r.modalities))].sort();
}

/** "20260220" as "2026-02-20"; anything else as it is. */
export function showDate(date: string | null): string {
  if (!date) return "—";
  return /^\d{8}$/.test(date) ? `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6)}` : date;
}

/** A DICOM person name ("Family^Given") as words. */
export function showName(name: string | null): string {
  return name ? name.split("^").filter(Boolean).join(", ") : "Unnamed patient";
}

const pad = (n: number) => String(n).padStart(2, "0");

/** When a kept list was answered, in local time: "as of 14:02" today, else with its date. */
export function asOf(ms: number, now: Date = new Date()): string {
  const at = new Date(ms);
  const time = `${pad(at.getHours())}:${pad(at.getMinutes())}`;
  const sameDay = at.getFullYear() === now.getFullYear() && at.getMonth() === now.getMonth() && at.getDate() === now.getDate();
  return sameDay ? `as of ${time}` : `as of ${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())} ${time}`;
}

/** An archive's answer in words: "" when it answered now. */
export function archiveNote(answer: ArchiveAnswer, now: Date = new Date()): string {
  if (answer.state === "answered") return "";
  if (answer.state === "locked") return `${answer.archive} is asked once the key is unlocked (its credentials are sealed under it)`;
  const why = answer.error ? ` (${answer.error.code})` : "";
  const refused = answer.state === "unauthorized" || answer.reason === "pacs_unauthorized";
  const what = refused ? "refuses this home's credentials" : "is unreachable";
  if (answer.state === "kept" && answer.answered_ms) {
    return `${answer.archive} ${what}: its list ${asOf(answer.answered_ms, now)}`;
  }
  return `${answer.archive} ${what}${why}: ${answer.error?.message ?? "it did not answer"}`;
}

/** Bytes as megabytes, one decimal. */
export const mb = (bytes: number) => `${(bytes / 1_000_000).toFixed(1)} MB`;

/** "local/total": how much of the study is here. */
export function instancesText(row: WorklistRow): string {
  return `${row.local_instances}/${row.instances ?? "?"}`;
}

/** Whether opening the row needs a retrieval first (nothing of it is local yet, or not all). */
export function needsRetrieval(row: WorklistRow): boolean {
  return row.local_instances === 0 || (row.instances !== null && row.local_instances < row.instances);
}

/** A retrieval's progress in words, and as a fraction for the bar (null: total unknown). */
export function progressText(p: RetrieveProgress): { text: string; fraction: number | null } {
  const total = p.total ?? null;
  const fraction = total ? Math.min(1, p.instances / total) : null;
  const of = total ? `${p.instances}/${total}` : `${p.instances}`;
  const verb = p.phase === "done" ? "Retrieved" : "Retrieving";
  const stored = p.phase === "done" ? "" : ` · ${p.stored ?? 0} stored`;
  return { text: `${verb} ${of} instances · ${mb(p.bytes)}${stored}`, fraction };
}

/** Whether a retrieval's progress says the study can be opened: an instance of it is stored
 *  (the first image is shown while the rest streams). */
export function canOpen(p: RetrieveProgress): boolean {
  return p.phase === "first-image" || (p.stored ?? 0) > 0;
}
