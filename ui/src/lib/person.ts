import type { Author, PersonKey } from "./api";

/** The calendar day of a time in ms, as YYYY-MM-DD (UTC, as the CLI prints it). */
export function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** "key 2 of 2, rotated on 2026-01-01": which of a person's keys signed, in the words of the
 *  provenance panel. Every fact in it comes from the app's report view. */
export function keyLabel(p: PersonKey): string {
  const which = `key ${p.number} of ${p.keys}`;
  if (p.rotated_ms != null) {
    return p.replaced_lost_key
      ? `${which}, replaced a lost key on ${day(p.rotated_ms)}`
      : `${which}, rotated on ${day(p.rotated_ms)}`;
  }
  if (p.retired_ms != null) return `${which}, replaced on ${day(p.retired_ms)}`;
  return which;
}

/** An author's name where a sentence names them ("co-signed by …"): the name now, with the
 *  name they signed under and any other the roster gave the key, as the app's report view
 *  says them (a rename never rewrites who signed). */
export function named(a: Pick<Author, "name" | "name_then" | "formerly">): string {
  let out = a.name;
  if (a.name_then) out += ` (signed as ${a.name_then})`;
  if (a.formerly?.length) out += ` (formerly ${a.formerly.join(", ")})`;
  return out;
}
