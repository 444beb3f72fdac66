import { describe, expect, it } from "vitest";
import { keyLabel, named } from "./person";

const jan1 = Date.UTC(2026, 0, 1, 12);

describe("keyLabel", () => {
  it("names the key a rotation brought in, and when", () => {
    expect(keyLabel({ number: 2, keys: 2, current: "b", rotated_ms: jan1, replaced_lost_key: false })).toBe(
      "key 2 of 2, rotated on 2026-01-01",
    );
  });
  it("says when a lost key was replaced", () => {
    expect(keyLabel({ number: 2, keys: 3, current: "c", rotated_ms: jan1, replaced_lost_key: true })).toBe(
      "key 2 of 3, replaced a lost key on 2026-01-01",
    );
  });
  it("names a first key by when it was replaced", () => {
    expect(keyLabel({ number: 1, keys: 2, current: "b", retired_ms: jan1, replaced_lost_key: false })).toBe(
      "key 1 of 2, replaced on 2026-01-01",
    );
  });
});

describe("named", () => {
  it("says the name now, and the name an entry was signed under where the roster renamed its author since", () => {
    expect(named({ name: "Dr Ada Jones" })).toBe("Dr Ada Jones");
    expect(named({ name: "Dr Ada Jones", name_then: "Dr Ada Smith" })).toBe("Dr Ada Jones (signed as Dr Ada Smith)");
    expect(named({ name: "Dr Mallory", formerly: ["Dr Rex Resident"] })).toBe("Dr Mallory (formerly Dr Rex Resident)");
  });
});
