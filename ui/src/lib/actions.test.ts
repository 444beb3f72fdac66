import { describe, expect, it } from "vitest";
import type { Allowed, ReportActions } from "./api";
import { NOTHING, offerOf, refusalOf } from "./actions";

const yes: Allowed = { allowed: true };
const no = (rule: string, reason = `refused: ${rule}`): Allowed => ({ allowed: false, rule, reason });

const actions = (over: Partial<ReportActions> = {}): ReportActions => ({
  write: {}, cosign: {}, preliminary: no("already_final"), finalize: no("already_final"), addendum: no("not_final"), resolve: {}, review: {},
  erase: no("role_may_not_write"), restrict: no("role_may_not_write"), lift: { allowed: false, reason: "the report is not restricted" },
  move: no("role_may_not_write"), ...over,
});

describe("offerOf", () => {
  it("offers erasure, restriction and lifting only where the app allows them", () => {
    const none = offerOf(actions());
    expect([none.erase, none.restrict, none.lift]).toEqual([false, false, false]);
    const restricted = offerOf(actions({ erase: yes, restrict: { allowed: false, reason: "already restricted" }, lift: yes }));
    expect([restricted.erase, restricted.restrict, restricted.lift]).toEqual([true, false, true]);
  });

  it("offers the move to another patient's study only where the app allows it", () => {
    expect(offerOf(actions()).move).toBe(false);
    expect(offerOf(actions({ move: yes })).move).toBe(true);
    expect(NOTHING.move).toBe(false);
  });

  it("offers nothing before the app has answered", () => {
    expect(offerOf(null)).toBe(NOTHING);
    expect(NOTHING.finalize || NOTHING.addendum || NOTHING.write.size > 0).toBe(false);
  });

  it("offers exactly the actions the app allows", () => {
    const o = offerOf(actions({
      write: { technique: yes, findings: no("finalised") },
      cosign: { technique: no("self_cosign"), cardiac: yes },
      finalize: yes,
      review: { ai1: yes, ai2: no("already_reviewed") },
    }));
    expect([...o.write]).toEqual(["technique"]);
    expect([...o.cosign]).toEqual(["cardiac"]);
    expect([...o.review]).toEqual(["ai1"]);
    expect(o.finalize).toBe(true);
    expect(o.finalizeRefused).toBeNull();
    expect(o.addendum).toBe(false);
  });

  it("says why sign-off is refused when the rule names work left on the report", () => {
    for (const rule of ["section_missing", "cosign_missing", "countersign_missing", "unreviewed_ai", "field_missing"]) {
      const o = offerOf(actions({ finalize: no(rule, "section technique has no text") }));
      expect(o.finalize).toBe(false);
      expect(o.finalizeRefused).toEqual({ code: null, rule, text: "section technique has no text" });
    }
  });

  it("keeps quiet about refusals the report's state or the user's role already explain", () => {
    for (const rule of ["already_final", "not_attending", "role_may_not_write", "report_refused"]) {
      expect(offerOf(actions({ finalize: no(rule) })).finalizeRefused).toBeNull();
    }
  });

  it("offers keeping the sign-offs the app allows, else says why none may be kept", () => {
    const both = offerOf(actions({ resolve: { f1: yes, f2: yes }, addendum: yes }));
    expect([...both.resolve]).toEqual(["f1", "f2"]);
    expect(both.resolveRefused).toBeNull();
    expect(both.addendum).toBe(true);
    const none = offerOf(actions({ resolve: { f1: no("role_may_not_write", "role resident may not write report.resolve"), f2: no("role_may_not_write") } }));
    expect(none.resolve.size).toBe(0);
    expect(none.resolveRefused?.rule).toBe("role_may_not_write");
    expect(none.resolveRefused?.text).toBe("role resident may not write report.resolve");
    expect(offerOf(actions()).resolveRefused).toBeNull();
    // One's own sign-off is refused beside one that may be kept: why, on that side.
    const mine = offerOf(actions({ resolve: { f1: no("self_resolve", "a resolution must be signed by someone other than the author"), f2: yes } }));
    expect([...mine.resolve]).toEqual(["f2"]);
    expect(mine.resolveRefused).toBeNull();
    expect(mine.keepRefused.get("f1")?.rule).toBe("self_resolve");
    expect(mine.keepRefused.has("f2")).toBe(false);
    expect(none.keepRefused.size).toBe(0);
  });
});

describe("refusalOf", () => {
  it("is null for an allowed action and the rule apart from the words for a refused one", () => {
    expect(refusalOf(yes)).toBeNull();
    expect(refusalOf({ allowed: false })).toEqual({ code: null, rule: null, text: "not allowed now" });
  });
});
