import { describe, expect, it } from "vitest";
import type { ProvenanceItem, ReportView } from "./api";
import { describeEntry, erasureBanner, moveLine, statusWords } from "./describe";

const author = { key: "a".repeat(64), name: "Dr A", role: "attending" };
const item = (kind: string, entry: string, section?: string): ProvenanceItem => ({
  entry, kind, author, seq: 1, time_ms: 0, parents: [], section, status: { state: "verified" },
});
const report = {
  sections: [{ name: "cardiac", title: "Cardiac assessment" }, { name: "findings", title: "Findings" }],
  signoffs: [{ entry: "final-1" }],
  ai: [
    { review: { entry: "review-1", decision: "reject" } },
    { entry: "received-1", review: null, received: { source: "Acme AI LungScan 2.1" } },
  ],
} as unknown as ReportView;

describe("describeEntry", () => {
  it("names the section by its title", () => {
    expect(describeEntry(item("section.write", "w", "findings"), report)).toBe("wrote Findings");
    expect(describeEntry(item("section.cosign", "c", "cardiac"), report)).toBe("co-signed Cardiac assessment");
  });
  it("tells a final sign-off from a preliminary mark by the report's sign-offs", () => {
    expect(describeEntry(item("report.status", "final-1"), report)).toBe("signed the report off as final");
    expect(describeEntry(item("report.status", "prelim-1"), report)).toBe("marked the report preliminary");
  });
  it("says what a reviewer decided", () => {
    expect(describeEntry(item("ai.review", "review-1"), report)).toBe("rejected an AI result");
  });
  it("says an SR was received and from which device, not that the receiver proposed it", () => {
    expect(describeEntry(item("ai.received", "received-1"), report)).toBe(
      "received an AI result as DICOM SR from Acme AI LungScan 2.1 (attested receipt)",
    );
  });
  it("falls back to the kind for one it does not know", () => {
    expect(describeEntry(item("roster.rotate", "r"), report)).toBe("roster.rotate");
  });
});

const dpo = { key: "d".repeat(64), name: "Dana Protection", role: "data-protection" };
const erasedReport = {
  ...report,
  erasure: { entry: "erase-1", by: dpo, time_ms: Date.UTC(2026, 2, 4, 10), basis: "GDPR Art. 17(1)(b)", scope: "patient" },
  restrictions: [
    { entry: "restrict-1", by: dpo, time_ms: 0, basis: "Art. 18(1)(a)", restricted: true },
    { entry: "lift-1", by: author, time_ms: 0, basis: "accuracy checked", restricted: false },
  ],
  moves: [{ entry: "move-1", by: author, time_ms: Date.UTC(2026, 2, 3), from: "2.25.1", to: "2.25.2", reason: "wrong patient" }],
} as unknown as ReportView;

describe("erasure, restriction and moves", () => {
  it("names the erasure by its scope, the restriction by its direction, the move by its studies", () => {
    expect(describeEntry(item("payload.erase", "erase-1"), erasedReport)).toBe("erased the patient's personal data");
    expect(describeEntry(item("payload.erase", "erase-2"), erasedReport)).toBe("erased the report's personal data");
    expect(describeEntry(item("report.restrict", "restrict-1"), erasedReport)).toBe("restricted the report's processing");
    expect(describeEntry(item("report.restrict", "lift-1"), erasedReport)).toBe("lifted the restriction");
    expect(describeEntry(item("report.move", "move-1"), erasedReport)).toBe("moved the report from study 2.25.1 to study 2.25.2");
  });
  it("names the archive a delivery record says the report went to", () => {
    const delivered = {
      ...erasedReport,
      deliveries: [{ entry: "del-1", by: erasedReport.moves![0].by, time_ms: 0, archive: "orthanc", version: "v", study: "2.25.2", sop_instances: ["2.25.9"] }],
    };
    expect(describeEntry(item("report.delivered", "del-1"), delivered)).toBe("stored the signed-off report on archive orthanc");
    expect(describeEntry(item("report.delivered", "del-2"), delivered)).toBe("stored the signed-off report on an archive");
  });
  it("names the study and archive a signed rejection withdrew the report from", () => {
    const by = erasedReport.moves![0].by;
    const corrected = {
      ...erasedReport,
      deliveries: [{ entry: "del-1", by, time_ms: 0, archive: "orthanc", version: "v", study: "2.25.2", sop_instances: ["2.25.9"] }],
      rejections: [{ entry: "rej-1", by, time_ms: 0, archive: "orthanc", version: "v", study: "2.25.1", sop_instances: ["2.25.8"], rejection_note: "2.25.7" }],
    };
    expect(describeEntry(item("report.delivered", "rej-1"), corrected)).toBe("rejected the report's instances in study 2.25.1 on archive orthanc");
    expect(describeEntry(item("report.delivered", "del-1"), corrected)).toBe("stored the signed-off report on archive orthanc");
  });
  it("says an erased entry's signature still verifies, and who erased it when, on which basis", () => {
    const erased = { ...item("section.write", "w", "findings"), status: { state: "erased" as const } };
    expect(statusWords(erased, erasedReport)).toBe("signature verified · erased on 2026-03-04 by Dana Protection (GDPR Art. 17(1)(b))");
    expect(statusWords(item("payload.erase", "erase-1"), erasedReport)).toBe("verified");
    expect(statusWords({ ...erased, status: { state: "refused", code: "finalised" } }, erasedReport)).toBe("refused");
  });
  it("words the editor's banners from the app's notes", () => {
    expect(erasureBanner(erasedReport.erasure!)).toBe("Erased on 2026-03-04 by Dana Protection (data-protection) — GDPR Art. 17(1)(b).");
    expect(moveLine(erasedReport.moves![0])).toBe("Moved from study 2.25.1 to study 2.25.2 on 2026-03-03 by Dr A (attending) — wrong patient");
  });
});
