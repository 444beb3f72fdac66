import { describe, expect, it } from "vitest";
import type { Author, ReportView, Section, Signoff, Version } from "./api";
import { conflictOf, inConflict, reportRefusal, signoffStanding, statusLabel, versionFields } from "./conflict";

const ada: Author = { key: "a".repeat(64), name: "Dr Ada", role: "attending" };
const bob: Author = { key: "b".repeat(64), name: "Dr Bob", role: "attending" };
const v = (entry: string, author: Author, text: string, fields: Record<string, string> = {}): Version => ({
  entry, author, time_ms: 1, text, fields, status: { state: "verified" }, cosigns: [],
});
const section = (name: string, versions: Version[], conflicting?: string[]): Section => ({
  name, title: name.toUpperCase(), text: conflicting ? null : versions[0].text, cosign_role: null, required: true,
  fields: [{ name: "size", label: "Size", type: "number", unit: "mm", required: false, value: null, display: null }],
  versions, current: conflicting ? null : versions[0].entry, signed_off_version: null,
  conflicting_versions: conflicting, concurrent: false,
});
const signoff = (entry: string, author: Author, time_ms: number, sections: Record<string, string>, in_force = true): Signoff => ({
  entry, author, time_ms, status: { state: "verified" }, sections, in_force,
});

function report(): ReportView {
  const t = v("t1", ada, "Technique.");
  const mine = v("i1", ada, "Nodule.", { size: "6" });
  const theirs = v("i2", bob, "Normal.");
  return {
    report: "r", study: "s", template: "ct-chest", template_title: "CT chest", images: [], status: "conflict",
    created_by: ada, created_ms: 0,
    sections: [section("technique", [t]), section("impression", [mine, theirs], ["i1", "i2"])],
    signoff: null,
    // Newest first on purpose: the banner lists them oldest first.
    signoffs: [signoff("f2", bob, 20, { technique: "t1", impression: "i2" }), signoff("f1", ada, 10, { technique: "t1", impression: "i1" })],
    refused_signoffs: [],
    resolutions: [], addenda: [], measurements: [], critical: [], followups: [], ai: [], reads: [], heads: [],
    provenance: [{ entry: "r", kind: "report.create", author: ada, seq: 1, time_ms: 0, parents: [], status: { state: "verified" } }],
  };
}

describe("a conflict between sign-offs", () => {
  it("lists the sign-offs in force oldest first and, per differing section, the version each covers", () => {
    const c = conflictOf(report())!;
    expect(c.signoffs.map((s) => s.entry)).toEqual(["f1", "f2"]);
    expect(c.rows.map((r) => r.name)).toEqual(["impression"]);
    expect(c.rows[0].cells.map((x) => x?.text)).toEqual(["Nodule.", "Normal."]);
    expect(inConflict(report(), "impression")).toBe(true);
    expect(inConflict(report(), "technique")).toBe(false);
  });

  it("is nothing once resolved, and the sign-off not kept is superseded", () => {
    const r = report();
    r.status = "final";
    r.signoffs[0].in_force = false;
    expect(conflictOf(r)).toBeNull();
    expect(signoffStanding(r, "f2")).toBe("superseded");
    expect(signoffStanding(r, "f1")).toBe("in force");
    expect(signoffStanding(report(), "f1")).toBe("in conflict");
    expect(signoffStanding(r, "t1")).toBeNull();
  });

  it("shows a version's fields with their unit", () => {
    const r = report();
    expect(versionFields(r.sections[1], r.sections[1].versions[0])).toEqual(["Size: 6 mm"]);
    expect(versionFields(r.sections[1], r.sections[1].versions[1])).toEqual([]);
    expect(versionFields(undefined, r.sections[1].versions[0])).toEqual([]);
  });
});

describe("refusals", () => {
  it("label a refused entry with its rule, never as verified", () => {
    expect(statusLabel({ state: "refused", code: "finalised", reason: "the report was finalised" })).toBe("refused (finalised)");
    expect(statusLabel({ state: "invalid", reason: "bad signature" })).toBe("invalid: bad signature");
    expect(statusLabel({ state: "verified" })).toBe("verified");
  });

  it("say why a refused report counts for nothing", () => {
    const r = report();
    expect(reportRefusal(r)).toBeNull();
    r.status = "refused";
    r.provenance[0].status = { state: "refused", code: "revoked", reason: "the author was revoked" };
    expect(reportRefusal(r)).toEqual({ code: "revoked", reason: "the author was revoked" });
  });
});
