// A command's error as the UI shows it: the rule that refused the entry (when one did) apart from
// the words, so a refusal reads "finalised · the report was finalised …" and can be matched on.
import { CommandError } from "./api";

export interface Shown {
  code: string | null;
  rule: string | null;
  text: string;
}

/** The error to show. The app's message already names the rule ("refused by rule x: …"); the
 *  rule is shown apart, so that prefix is not said twice. */
export function describeError(e: unknown): Shown {
  if (e instanceof CommandError) {
    const prefix = e.rule ? `refused by rule ${e.rule}: ` : null;
    const text = prefix && e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message;
    return { code: e.code, rule: e.rule, text };
  }
  return { code: null, rule: null, text: e instanceof Error ? e.message : String(e) };
}

/** One line: "[rule finalised] the report was finalised …". */
export const errorLine = (s: Shown) => (s.rule ? `[rule ${s.rule}] ${s.text}` : s.text);
