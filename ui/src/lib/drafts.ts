// Unsigned text is kept in local storage as it is typed, per report and section, so closing the
// window or a crash loses nothing; a draft is dropped once its text is signed.

export interface DraftStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

const key = (report: string, section: string) => `countersign:draft:${report}:${section}`;

export function loadDraft(store: DraftStore, report: string, section: string): string | null {
  return store.getItem(key(report, section));
}

export function saveDraft(store: DraftStore, report: string, section: string, text: string, signed: string | null): void {
  // A draft equal to the signed text is no draft.
  if (text === (signed ?? "")) store.removeItem(key(report, section));
  else store.setItem(key(report, section), text);
}

export function dropDraft(store: DraftStore, report: string, section: string): void {
  store.removeItem(key(report, section));
}
