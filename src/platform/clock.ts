/**
 * @module clock
 * The injectable clock. Every freshness and validity decision reads time through a {@link Clock}, so
 * tests can move time instead of waiting for it.
 */

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that only moves when told to (tests, the benchmark). */
export class ManualClock implements Clock {
  constructor(private ms: number = Date.now()) {}
  now(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
  set(ms: number): void {
    this.ms = ms;
  }
}

/** Whole seconds since the epoch, as JWT time claims count them. */
export function epochSeconds(clock: Clock): number {
  return Math.floor(clock.now() / 1000);
}
