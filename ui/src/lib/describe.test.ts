import { describe, expect, it } from "vitest";
import type { ProvenanceItem, ReportView } from "./api";
import { describeEntry } from "./describe";

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
