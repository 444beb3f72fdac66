import { describe, expect, it } from "vitest";
import type { ArchiveAnswer, WorklistRow } from "./api";
import {
  archiveNote, asOf, filterRows, sinceComplete, instancesText, modalitiesOf, needsRetrieval, NO_FILTER, canOpen, progressText, showDate, showName,
  sortRows, toggleSort,
} from "./worklist";

const row = (over: Partial<WorklistRow>): WorklistRow => ({
  archive: "orthanc", study: "2.25.1", patient: "Doe^Jane", patient_id: "P1", date: "20260101", modalities: ["CT"],
  description: "CT chest", accession: "ACC1", instances: 10, local_instances: 0, report: "none", ...over,
});

const rows = [
  row({ study: "2.25.1", patient: "Doe^Jane", date: "20260105", modalities: ["CT"], report: "final", instances: 10 }),
  row({ study: "2.25.2", patient: "Adams^Ann", date: "20260301", modalities: ["MR"], report: "none", instances: 200, accession: "X9" }),
  row({ study: "2.25.3", patient: "Brown^Bob", date: "20251230", modalities: ["CT", "PT"], report: "draft", instances: null }),
  row({ study: "2.25.4", patient: null, date: null, modalities: [], report: "conflict", description: "no date" }),
];
const studies = (r: WorklistRow[]) => r.map((x) => x.study);

describe("sorting", () => {
  it("sorts by each column, both ways, with absent values last", () => {
    expect(studies(sortRows(rows, { key: "date", up: false }))).toEqual(["2.25.2", "2.25.1", "2.25.3", "2.25.4"]);
    expect(studies(sortRows(rows, { key: "date", up: true }))).toEqual(["2.25.3", "2.25.1", "2.25.2", "2.25.4"]);
    expect(studies(sortRows(rows, { key: "patient", up: true }))).toEqual(["2.25.2", "2.25.3", "2.25.1", "2.25.4"]);
    expect(studies(sortRows(rows, { key: "instances", up: false }))).toEqual(["2.25.2", "2.25.1", "2.25.4", "2.25.3"]);
    expect(studies(sortRows(rows, { key: "modality", up: true }))).toEqual(["2.25.1", "2.25.3", "2.25.2", "2.25.4"]);
  });

  it("puts what is left to read first by report state", () => {
    expect(sortRows(rows, { key: "report", up: true }).map((r) => r.report)).toEqual(["none", "draft", "conflict", "final"]);
  });

  it("does not change the rows it is given", () => {
    const before = studies(rows);
    sortRows(rows, { key: "patient", up: true });
    expect(studies(rows)).toEqual(before);
  });

  it("turns a column around on a second click; a new column starts ascending, the date newest first", () => {
    expect(toggleSort({ key: "date", up: false }, "date")).toEqual({ key: "date", up: true });
    expect(toggleSort({ key: "date", up: false }, "patient")).toEqual({ key: "patient", up: true });
    expect(toggleSort({ key: "patient", up: true }, "date")).toEqual({ key: "date", up: false });
  });
});

describe("filtering", () => {
  it("matches every word of the text in names, IDs, descriptions and accessions", () => {
    expect(studies(filterRows(rows, { ...NO_FILTER, text: "adams" }))).toEqual(["2.25.2"]);
    expect(studies(filterRows(rows, { ...NO_FILTER, text: "x9" }))).toEqual(["2.25.2"]);
    expect(studies(filterRows(rows, { ...NO_FILTER, text: "ct jane" }))).toEqual(["2.25.1"]);
    expect(filterRows(rows, { ...NO_FILTER, text: "nobody" })).toEqual([]);
    expect(filterRows(rows, NO_FILTER)).toHaveLength(rows.length);
  });

  it("keeps one modality, and studies since a date (those without a date only without one)", () => {
    expect(studies(filterRows(rows, { ...NO_FILTER, modality: "PT" }))).toEqual(["2.25.3"]);
    expect(studies(filterRows(rows, { ...NO_FILTER, since: "2026-01-05" }))).toEqual(["2.25.1", "2.25.2"]);
    expect(studies(filterRows(rows, { ...NO_FILTER, since: "2026-01-06", modality: "CT" }))).toEqual([]);
    expect(studies(filterRows(rows, { ...NO_FILTER, since: "20260105" }))).toEqual(["2.25.1", "2.25.2"]);
    // Not typed in full yet: no filter (rather than none matching while typing).
    expect(filterRows(rows, { ...NO_FILTER, since: "2026-0" })).toHaveLength(rows.length);
  });

  it("takes a date typed in full, with or without dashes", () => {
    expect(sinceComplete("2026-01-05") && sinceComplete("20260105") && sinceComplete(" 2026-01-05 ")).toBe(true);
    expect(sinceComplete("2026-1-5") || sinceComplete("") || sinceComplete("yesterday")).toBe(false);
  });

  it("offers the modalities present", () => {
    expect(modalitiesOf(rows)).toEqual(["CT", "MR", "PT"]);
  });
});

describe("words", () => {
  it("says when a kept list was answered: the time today, the date otherwise", () => {
    const now = new Date(2026, 2, 4, 16, 30);
    expect(asOf(new Date(2026, 2, 4, 14, 2).getTime(), now)).toBe("as of 14:02");
    expect(asOf(new Date(2026, 2, 3, 9, 5).getTime(), now)).toBe("as of 2026-03-03 09:05");
  });

  it("names an archive that did not answer, with its kept list's time or its error", () => {
    const now = new Date(2026, 2, 4, 16, 30);
    const kept: ArchiveAnswer = { archive: "legacy", state: "kept", answered_ms: new Date(2026, 2, 4, 14, 2).getTime(),
      error: { code: "pacs_unreachable", message: "archive legacy: connection refused" } };
    expect(archiveNote(kept, now)).toBe("legacy is unreachable: its list as of 14:02");
    const none: ArchiveAnswer = { archive: "x", state: "unreachable", error: { code: "pacs_timeout", message: "archive x: no answer" } };
    expect(archiveNote(none, now)).toBe("x is unreachable (pacs_timeout): archive x: no answer");
    expect(archiveNote({ archive: "ok", state: "answered" }, now)).toBe("");
    const refused: ArchiveAnswer = { ...kept, reason: "pacs_unauthorized" };
    expect(archiveNote(refused, now)).toBe("legacy refuses this home's credentials: its list as of 14:02");
    const never: ArchiveAnswer = { archive: "x", state: "unauthorized", error: { code: "pacs_unauthorized", message: "archive x: pacs_unauthorized" } };
    expect(archiveNote({ archive: "x", state: "locked" }, now)).toBe("x is asked once the key is unlocked (its credentials are sealed under it)");
    expect(archiveNote(never, now)).toBe("x refuses this home's credentials (pacs_unauthorized): archive x: pacs_unauthorized");
  });

  it("shows dates, names, counts and progress", () => {
    expect(showDate("20260220")).toBe("2026-02-20");
    expect(showDate(null)).toBe("—");
    expect(showName("Phantom^Shepp-Logan")).toBe("Phantom, Shepp-Logan");
    expect(showName(null)).toBe("Unnamed patient");
    expect(instancesText(row({ local_instances: 3, instances: 10 }))).toBe("3/10");
    expect(instancesText(row({ instances: null }))).toBe("0/?");
    expect(progressText({ study: "s", phase: "retrieving", instances: 5, bytes: 2_500_000, total: 20, stored: 4 }))
      .toEqual({ text: "Retrieving 5/20 instances · 2.5 MB · 4 stored", fraction: 0.25 });
    expect(progressText({ study: "s", phase: "retrieving", instances: 3, bytes: 0, total: null, stored: 0 }).fraction).toBeNull();
    expect(progressText({ study: "s", phase: "done", instances: 20, bytes: 0, total: 20, stored: 20 }).text)
      .toBe("Retrieved 20/20 instances · 0.0 MB");
  });

  it("opens a study as soon as one instance of it is stored", () => {
    const p = { study: "s", instances: 2, bytes: 0, total: 20 };
    expect(canOpen({ ...p, phase: "retrieving", stored: 0 })).toBe(false);
    expect(canOpen({ ...p, phase: "first-image", stored: 1 })).toBe(true);
    expect(canOpen({ ...p, phase: "retrieving", stored: 5 })).toBe(true);
  });

  it("retrieves only what is not all here", () => {
    expect(needsRetrieval(row({ local_instances: 0, instances: 10 }))).toBe(true);
    expect(needsRetrieval(row({ local_instances: 4, instances: 10 }))).toBe(true);
    expect(needsRetrieval(row({ local_instances: 10, instances: 10 }))).toBe(false);
    expect(needsRetrieval(row({ local_instances: 10, instances: null }))).toBe(false);
  });
});
