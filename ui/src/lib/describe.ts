// What an entry did, in words, for the provenance timeline ("wrote Findings", "co-signed Cardiac
// assessment"). The kind name stays beside it for auditors. Presentation only: whether an entry
// counts is the app's answer (its status), never decided here.
import type { ProvenanceItem, ReportView } from "./api";

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
    case "payload.erase":
      return "erased content";
    default:
      return item.kind;
  }
}
