/**
 * When the pool's background refill may start containers. A trainer resets a whole batch at
 * once: while those acquires come in, each reset's workspace is laid out in its sandbox, and a
 * container started beside them (its engine's, its runtime's and its executor's CPU) makes every
 * reset of the burst later. So the refill waits until no sandbox has been leased for `quietMs`,
 * but never more than `maxMs` in a row: under a steady stream of acquires it goes on as before.
 * An image with no warm sandbox left on an engine is not held (one start at a time): its next
 * acquire would start a container anyway, and later. Acquires that find no warm sandbox are not
 * held either: the pool starts theirs at once.
 */
export class RefillHold {
  private lastLease = -Infinity;
  /** When the refill first waited since the last quiet moment; null when it does not wait. */
  private since: number | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly quietMs: number,
    private readonly maxMs: number,
  ) {}

  /** A sandbox was leased at `now`. */
  leased(now: number): void {
    this.lastLease = now;
  }

  /** How long from `now` the refill waits; 0: it may start now. */
  waitMs(now: number): number {
    const quietAt = this.lastLease + this.quietMs;
    if (now >= quietAt) {
      this.since = null;
      return 0;
    }
    this.since ??= now;
    return Math.max(0, Math.min(quietAt, this.since + this.maxMs) - now);
  }

  /**
   * Whether the refill must wait from `now`; if so, `run` is called once when it may go on (one
   * timer at a time, not keeping the process alive).
   */
  defer(now: number, run: () => void): boolean {
    const wait = this.waitMs(now);
    if (wait === 0) return false;
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        run();
      }, wait);
      this.timer.unref();
    }
    return true;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
