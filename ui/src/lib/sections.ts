// What a report's section reads as, shared by the editor (its AutoText starts from the current
// version's macros) and each section's card (its author and co-sign button): one definition, no
// Svelte state, so it is tested on its own.
import type { Section } from "./api";

/** The version a section reads as (none before it is written, or when sign-offs disagree). */
export const currentOf = (s: Section) => s.versions.find((v) => v.entry === s.current);
