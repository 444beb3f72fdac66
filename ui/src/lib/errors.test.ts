import { describe, expect, it } from "vitest";
import { CommandError } from "./api";
import { describeError, errorLine } from "./errors";

describe("errors as shown", () => {
  it("set the refusing rule apart from the words, without saying it twice", () => {
    const e = new CommandError("not_allowed", "refused by rule finalised: the report was finalised by entry ab", "finalised");
    const shown = describeError(e);
    expect(shown).toEqual({ code: "not_allowed", rule: "finalised", text: "the report was finalised by entry ab" });
    expect(errorLine(shown)).toBe("[rule finalised] the report was finalised by entry ab");
  });

  it("keep a message that does not start with the rule, and errors without a rule, as they are", () => {
    expect(describeError(new CommandError("not_allowed", "entry x refused by rule revoked; nothing stored", "revoked")).text)
      .toBe("entry x refused by rule revoked; nothing stored");
    const plain = describeError(new CommandError("invalid_input", "zz is not an entry id"));
    expect(plain.rule).toBeNull();
    expect(errorLine(plain)).toBe("zz is not an entry id");
    expect(describeError(new Error("boom"))).toEqual({ code: null, rule: null, text: "boom" });
    expect(describeError("odd")).toEqual({ code: null, rule: null, text: "odd" });
  });
});
