import { afterEach, describe, expect, it, vi } from "vitest";

const unlocked: (string | null)[] = [];
vi.mock("./api", async () => {
  const real = await vi.importActual<typeof import("./api")>("./api");
  return { ...real, api: { unlock: async (p: string | null) => void unlocked.push(p) } };
});

import { CommandError } from "./api";
import { setAsker, signing } from "./auth";

afterEach(() => {
  setAsker(null);
  unlocked.length = 0;
});

describe("signing", () => {
  // The app answers `key_rotated` when another process adopted a rotation of the key this window
  // held: it put the old key away, and unlocking opens the new one. Shown raw, the user had no
  // way on but to quit.
  it("asks to unlock and runs the action again when the key was rotated elsewhere", async () => {
    const asked: string[] = [];
    setAsker(async (ask) => {
      asked.push(ask.title);
      await ask.submit("passphrase");
    });
    let tries = 0;
    const out = await signing(async () => {
      tries += 1;
      if (tries === 1) throw new CommandError("key_rotated", "this home's key was rotated by another process");
      return "signed";
    });
    expect(out).toBe("signed");
    expect(asked).toEqual(["Unlock to sign"]);
    expect(unlocked).toEqual(["passphrase"]);
  });

  it("passes any other error through without asking", async () => {
    setAsker(async () => {
      throw new Error("must not ask");
    });
    await expect(signing(async () => { throw new CommandError("not_allowed", "refused"); })).rejects.toMatchObject({ code: "not_allowed" });
  });
});
