// Unsigned text is kept in the home (the app's ledger database, owner-only) as it is typed, per
// report and section, so closing the window or a crash loses nothing — and no patient text sits
// in the webview's storage. The app drops a section's draft when it is signed.
//
// Earlier builds kept drafts in the webview's localStorage; what is found there is moved into
// the home once and removed.

/** What the drafts need of the app (the real `api`, or a test's stand-in). */
export interface DraftApi {
  drafts(report: string): Promise<Record<string, string>>;
  saveDraft(report: string, section: string, text: string | null): Promise<unknown>;
}

/** The webview storage earlier builds used. */
export interface LegacyStore {
  readonly length: number;
  key(index: number): string | null;
  getItem(key: string): string | null;
  removeItem(key: string): void;
}

const legacyPrefix = (report: string) => `countersign:draft:${report}:`;

/** The drafts of a report, after moving any left in the webview's storage into the home. */
export async function loadDrafts(api: DraftApi, report: string, legacy?: LegacyStore): Promise<Record<string, string>> {
  const kept = await api.drafts(report);
  if (!legacy) return kept;
  const prefix = legacyPrefix(report);
  const found: string[] = [];
  for (let i = 0; i < legacy.length; i++) {
    const k = legacy.key(i);
    if (k?.startsWith(prefix)) found.push(k);
  }
  for (const k of found) {
    const section = k.slice(prefix.length);
    const text = legacy.getItem(k);
    if (text !== null && kept[section] === undefined) {
      await api.saveDraft(report, section, text);
      kept[section] = text;
    }
    legacy.removeItem(k);
  }
  return kept;
}

/** Saves as typed, at most once per `delayMs` per section; the last text typed always lands. */
export class DraftSaver {
  private timers = new Map<string, ReturnType<typeof setTimeout>>();
  private latest = new Map<string, () => Promise<unknown>>();

  constructor(
    private api: DraftApi,
    private delayMs = 400,
    private onError: (e: unknown) => void = () => {},
  ) {}

  /** Text equal to the signed version is no draft: it is dropped. */
  typed(report: string, section: string, text: string, signed: string | null): void {
    const k = `${report}\u0000${section}`;
    const value = text === (signed ?? "") ? null : text;
    this.latest.set(k, () => this.api.saveDraft(report, section, value));
    if (this.timers.has(k)) return;
    this.timers.set(
      k,
      setTimeout(() => {
        this.timers.delete(k);
        void this.run(k);
      }, this.delayMs),
    );
  }

  /** Saves whatever waits now (before signing, leaving the report, closing). */
  async flush(): Promise<void> {
    for (const [k, t] of this.timers) {
      clearTimeout(t);
      this.timers.delete(k);
    }
    await Promise.all([...this.latest.keys()].map((k) => this.run(k)));
  }

  private async run(k: string): Promise<void> {
    const save = this.latest.get(k);
    this.latest.delete(k);
    if (!save) return;
    try {
      await save();
    } catch (e) {
      this.onError(e);
    }
  }
}
