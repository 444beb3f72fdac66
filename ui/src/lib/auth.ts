// Signing with a key that may be locked. The UI does not decide when the passphrase is needed: it
// runs the action, and when the app answers `locked` (the key is not unlocked, or was locked after
// the idle time; or `key_rotated`: another process adopted a rotation of this key, and the app put
// the old one away, so unlocking opens the new one) or `reauth_required` (signing a final asks
// again), it asks the user for the
// passphrase and runs the action again. A key in the OS keychain has no passphrase (the identity's
// `needs_passphrase`, the app's answer): the prompt then only asks the user to unlock, with `null`.
import { api, CommandError } from "./api";

/** What the passphrase prompt is asked to do: show `title` and `message`, and call `submit` with
 *  what the user types (or `null`, for a key that needs no passphrase) until it succeeds (its
 *  errors shown in the prompt) or the user cancels. */
export interface PassphraseAsk {
  title: string;
  message: string;
  submit: (passphrase: string | null) => Promise<void>;
}

/** Resolves once `submit` succeeded; rejects when the user cancels. */
export type Asker = (ask: PassphraseAsk) => Promise<void>;

let asker: Asker | null = null;

/** The prompt host (App.svelte) registers itself here. */
export function setAsker(a: Asker | null) {
  asker = a;
}

/** Runs `action` (with `null`, or with the passphrase where the app asked to re-authenticate:
 *  the prompt is titled `reauthTitle`, what the passphrase is asked again for),
 *  asking for the passphrase where the app says it needs it. A cancel rethrows the app's error. */
export async function signing<T>(action: (passphrase: string | null) => Promise<T>, reauthTitle = "Sign off as final"): Promise<T> {
  try {
    return await action(null);
  } catch (e) {
    if (!(e instanceof CommandError) || !asker) throw e;
    if (e.code === "locked" || e.code === "key_rotated") {
      await asker({ title: "Unlock to sign", message: e.message, submit: async (p) => void (await api.unlock(p)) }).catch(() => {
        throw e;
      });
      return signing(action, reauthTitle);
    }
    if (e.code === "reauth_required") {
      // A wrong passphrase (or a token's wrong PIN) stays in the prompt to be typed again; any other answer closes it.
      let out: { ok: true; value: T } | { ok: false; error: unknown } | null = null;
      await asker({
        title: reauthTitle,
        message: e.message,
        submit: async (p) => {
          try {
            out = { ok: true, value: await action(p) };
          } catch (err) {
            if (err instanceof CommandError && (err.code === "wrong_passphrase" || err.code === "wrong_pin")) throw err;
            out = { ok: false, error: err };
          }
        },
      }).catch(() => {
        throw e;
      });
      const done = out as { ok: true; value: T } | { ok: false; error: unknown } | null;
      if (!done) throw e;
      if (!done.ok) throw done.error;
      return done.value;
    }
    throw e;
  }
}
