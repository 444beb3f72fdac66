import { describe, expect, it } from "vitest";
import type { Section } from "./api";
import { currentOf } from "./sections";

const section = (current: string | null) =>
  ({ name: "findings", current, versions: [{ entry: "v1" }, { entry: "v2" }] }) as unknown as Section;

describe("currentOf", () => {
  it("is the version the section's current entry names", () => {
    expect(currentOf(section("v2"))?.entry).toBe("v2");
    expect(currentOf(section("v1"))?.entry).toBe("v1");
  });

  it("is none before the section is written, or while sign-offs disagree", () => {
    expect(currentOf(section(null))).toBeUndefined();
    expect(currentOf({ ...section(null), versions: [] } as Section)).toBeUndefined();
  });
});
