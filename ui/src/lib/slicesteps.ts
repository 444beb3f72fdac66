// How a viewport's slice steps are paced: a held key steps faster than a slice may arrive, or
// than the screen refreshes: the steps add up in `wanted`, and at the next animation frame the
// slice asked for last is shown (slices in between are skipped, never queued): at most one slice
// drawn per frame displayed. Plain TypeScript apart from the viewport, so that this pacing is
// tested on its own (with a fake animation frame and a fake show).

export type WantedBy = "user" | "follow";

export class SliceSteps {
  wanted = 0;
  /** Whether the slice wanted is the user's move (told to the other viewport) or a follow of
   *  the other's (never told back: the two would chase each other's nearest slices). */
  wantedBy: WantedBy = "user";
  stepping = false;
  scheduled = false;

  constructor(
    /** The viewport's study (its image list, replaced when another is loaded) and slice on screen. */
    private readonly at: () => { images: readonly unknown[]; index: number },
    /** Shows slice `next`: told to the other viewport when `byUser`. */
    private readonly show: (next: number, byUser: boolean) => Promise<void>,
    private readonly nextFrame: (go: () => void) => void = (go) => void requestAnimationFrame(go),
  ) {}

  schedule() {
    if (this.stepping || this.scheduled) return;
    this.scheduled = true;
    const study = this.at().images;
    this.nextFrame(() => {
      this.scheduled = false;
      if (study === this.at().images) void this.showWanted();
    });
  }

  async showWanted() {
    if (this.wanted === this.at().index) return;
    this.stepping = true;
    const study = this.at().images;
    const next = this.wanted;
    try {
      await this.show(next, this.wantedBy === "user");
    } finally {
      this.stepping = false;
    }
    // Keys that came while this slice was on its way: the next frame shows where they lead.
    if (study === this.at().images && this.at().index === next && this.wanted !== this.at().index) this.schedule();
  }
}
