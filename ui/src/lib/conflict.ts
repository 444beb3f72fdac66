// Reading a report's sign-offs: whether two disagree, what each covers, and how a sign-off in the
// provenance stands. Pure: the app decides what is in force; this only arranges it for display.
import type { EntryStatus, ReportView, Section, Signoff, Version } from "./api";

/** One section the sign-offs in force disagree on: per sign-off (same order), the version it
 *  covers (null if the report does not hold it). */
export interface ConflictRow {
  name: string;
  title: string;
  cells: (Version | null)[];
}

export interface Conflict {
  /** The sign-offs in force, oldest first. */
  signoffs: Signoff[];
  rows: ConflictRow[];
}

/** The conflict to show, or null when the report is not in conflict. */
export function conflictOf(report: ReportView): Conflict | null {
  if (report.status !== "conflict") return null;
  const signoffs = report.signoffs.filter((s) => s.in_force).sort((a, b) => a.time_ms - b.time_ms || a.entry.localeCompare(b.entry));
  const rows: ConflictRow[] = [];
  for (const s of report.sections) {
    const covered = signoffs.map((f) => f.sections[s.name] ?? null);
    const differ = (s.conflicting_versions?.length ?? 0) > 1 || new Set(covered).size > 1;
    if (!differ) continue;
    rows.push({
      name: s.name,
      title: s.title,
      cells: covered.map((id) => s.versions.find((v) => v.entry === id) ?? null),
    });
  }
  return { signoffs, rows };
}

/** Whether a section's versions differ between the sign-offs in force. */
export const inConflict = (report: ReportView, section: string) =>
  conflictOf(report)?.rows.some((r) => r.name === section) ?? false;

/** How a sign-off entry stands: in force, in conflict (in force beside another), superseded by a
 *  resolution; null for an entry that is not an accepted sign-off. */
export function signoffStanding(report: ReportView, entry: string): "in force" | "in conflict" | "superseded" | null {
  const s = report.signoffs.find((x) => x.entry === entry);
  if (!s) return null;
  if (!s.in_force) return "superseded";
  return report.signoffs.filter((x) => x.in_force).length > 1 ? "in conflict" : "in force";
}

/** An entry's status in words: "verified", "refused (finalised)", "invalid: …". */
export function statusLabel(status: EntryStatus): string {
  if (status.state === "refused") return status.code ? `refused (${status.code})` : "refused";
  return status.reason ? `${status.state}: ${status.reason}` : status.state;
}

/** Why a report in the `refused` state counts for nothing: its creation's refusal. */
export function reportRefusal(report: ReportView): { code: string | null; reason: string | null } | null {
  if (report.status !== "refused") return null;
  const create = report.provenance.find((p) => p.entry === report.report);
  return { code: create?.status.code ?? null, reason: create?.status.reason ?? null };
}

/** A version's structured field values as a reader sees them: "Largest nodule: 6 mm". */
export function versionFields(section: Section | undefined, v: Version): string[] {
  if (!section) return [];
  return section.fields
    .filter((f) => (v.fields[f.name] ?? "") !== "")
    .map((f) => {
      const value = v.fields[f.name];
      return `${f.label}: ${f.type === "number" && f.unit ? `${value} ${f.unit}` : value}`;
    });
}
