// What an entry did, in words, for the provenance timeline ("wrote Findings", "co-signed Cardiac
// assessment"). The kind name stays beside it for auditors. Presentation only: whether an entry
// counts is the app's answer (its status), never decided here.
import type { DataProtectionNote, MoveNote, ProvenanceItem, ReportView } from "./api";
import { statusLabel } from "./conflict";
import { day, named } from "./person";

const DECISION: Record<string, string> = { accept: "accepted", edit: "edited and accepted", reject: "rejected" };

export function describeEntry(item: ProvenanceItem, report: ReportView): string {
  const title = report.sections.find((s) => s.name === item.section)?.title ?? item.section ?? "a section";
  switch (item.kind) {
    case "report.create":
      return "created the report";
    case "section.write":
      return `wrote ${title}`;
    case "section.cosign":
      return `co-signed ${title}`;
    case "report.status":
      // A final sign-off is listed among the sign-offs; the only other status is preliminary.
      return report.signoffs.some((s) => s.entry === item.entry) ? "signed the report off as final" : "marked the report preliminary";
    case "report.resolve":
      return "settled the conflicting sign-offs";
    case "addendum.write":
      return "added an addendum";
    case "ai.result":
      return `proposed ${title} (AI result)`;
    case "ai.received": {
      // The author attests that the SR arrived; the device wrote it. Never "proposed".
      const got = report.ai.find((a) => a.entry === item.entry)?.received;
      return got ? `received an AI result as DICOM SR from ${got.source} (attested receipt)` : "received an AI result as DICOM SR (attested receipt)";
    }
    case "ai.review": {
      const reviewed = report.ai.find((a) => a.review?.entry === item.entry);
      return reviewed?.review ? `${DECISION[reviewed.review.decision] ?? reviewed.review.decision} an AI result` : "reviewed an AI result";
    }
    case "measurement.add":
      return "measured a length on an image";
    case "critical.result":
      return "recorded a critical result";
    case "followup.recommend":
      return "recommended a follow-up";
    case "followup.close":
      return "closed a follow-up";
    case "view":
      return "read the report";
    case "access.grant":
      return "granted access to the report";
    case "access.revoke":
      return "revoked access to the report";
    case "payload.erase": {
      const scope = report.erasure?.entry === item.entry ? report.erasure.scope : undefined;
      return scope === "patient" ? "erased the patient's personal data" : "erased the report's personal data";
    }
    case "report.restrict": {
      const r = report.restrictions?.find((n) => n.entry === item.entry) ??
        (report.restriction?.entry === item.entry ? report.restriction : undefined);
      if (r?.restricted === false) return "lifted the restriction";
      return r ? "restricted the report's processing" : "changed the report's restriction";
    }
    case "report.delivered": {
      // A rejection is a `report.delivered` with a rejection note: the report withdrawn (IHE
      // IOCM) from a study it was moved away from.
      const r = report.rejections?.find((n) => n.entry === item.entry);
      if (r) return `rejected the report's instances in study ${r.study} on archive ${r.archive}`;
      const d = report.deliveries?.find((n) => n.entry === item.entry);
      return d ? `stored the signed-off report on archive ${d.archive}` : "stored the signed-off report on an archive";
    }
    case "report.move": {
      const m = report.moves?.find((n) => n.entry === item.entry);
      return m ? `moved the report from study ${m.from} to study ${m.to}` : "moved the report to another study";
    }
    default:
      return item.kind;
  }
}

/** "erased on 2026-01-01 by Dr Ada Attending (attending)": who erased, when, by the app's view. */
export function erasedBy(note: DataProtectionNote): string {
  return `erased on ${day(note.time_ms)} by ${named(note.by)}${note.by.role ? ` (${note.by.role})` : ""}`;
}

/** An entry's status in words. An erased entry's signature still verifies (the app re-checked
 *  its header): "signature verified · erased on DATE by NAME (basis)". Others: statusLabel. */
export function statusWords(item: ProvenanceItem, report: ReportView): string {
  if (item.status.state === "erased") {
    const e = report.erasure;
    return e ? `signature verified · erased on ${day(e.time_ms)} by ${named(e.by)} (${e.basis})` : "signature verified · erased";
  }
  if (item.status.state === "refused") return "refused";
  return statusLabel(item.status);
}

/** The editor's banner for an erased report. */
export function erasureBanner(e: DataProtectionNote): string {
  return `Erased on ${day(e.time_ms)} by ${named(e.by)}${e.by.role ? ` (${e.by.role})` : ""} — ${e.basis}.`;
}

/** The editor's line for a restriction in force. */
export function restrictionBanner(r: DataProtectionNote): string {
  return `Restricted on ${day(r.time_ms)} by ${named(r.by)}${r.by.role ? ` (${r.by.role})` : ""} — ${r.basis}.`;
}

/** The editor's line for a move: "Moved from study X to study Y on DATE by NAME — reason". */
export function moveLine(m: MoveNote): string {
  return `Moved from study ${m.from} to study ${m.to} on ${day(m.time_ms)} by ${named(m.by)}${m.by.role ? ` (${m.by.role})` : ""} — ${m.reason}`;
}
