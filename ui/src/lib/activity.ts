// The user's input, told to the app for its idle lock at most once every `every` ms — and the
// last input of a burst told too, when the interval ends, never dropped, with how long ago it
// happened: the app locks the key the idle time after the input it was told of, so an input
// dropped would lock it up to `every` ms early (in the e2e log: the passphrase typed told, the
// click 1.4 s later dropped), and one told late without its age would lock it up to `every` ms
// late.

/** How often, at most, input is told to the app. */
export const TELL_EVERY_MS = 5000;

/**
 * A function to call on every input: it calls `tell` at once if nothing was told for `every` ms,
 * else once when that interval ends (one timer, whatever the number of inputs in between),
 * with the age of the last input in ms.
 * `stop` cancels a pending tell. `now` and the timer functions are parameters for the tests.
 */
export function activityTeller(
  tell: (agoMs: number) => void,
  every = TELL_EVERY_MS,
  clock: { now: () => number; setTimeout: (f: () => void, ms: number) => unknown; clearTimeout: (t: unknown) => void } = {
    now: () => Date.now(),
    setTimeout: (f, ms) => setTimeout(f, ms),
    clearTimeout: (t) => clearTimeout(t as ReturnType<typeof setTimeout>),
  },
): { input: () => void; stop: () => void } {
  let told = -Infinity;
  let last = 0;
  let later: unknown = null;
  const tellNow = () => {
    later = null;
    told = clock.now();
    tell(told - last);
  };
  return {
    input() {
      last = clock.now();
      const since = last - told;
      if (since >= every) {
        if (later !== null) clock.clearTimeout(later);
        tellNow();
      } else if (later === null) {
        later = clock.setTimeout(tellNow, every - since);
      }
    },
    stop() {
      if (later !== null) clock.clearTimeout(later);
      later = null;
    },
  };
}
