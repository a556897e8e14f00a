/**
 * A budget of units (bytes in flight, runs at once) shared by whoever asks, served in the order
 * asked: acquire(n) waits until n fit, and its answer gives them back. One ask larger than the
 * whole budget goes alone.
 */
export class Budget {
  private used = 0;
  private readonly queue: { bytes: number; go: () => void }[] = [];

  constructor(private readonly budget: number) {}

  private fits(bytes: number): boolean {
    return this.used === 0 || this.used + bytes <= this.budget;
  }

  /** Waits for room for `bytes` (in order of asking); the answer gives it back. */
  async acquire(bytes: number): Promise<() => void> {
    if (this.queue.length === 0 && this.fits(bytes)) this.used += bytes;
    // Counted by the release that lets it go.
    else await new Promise<void>((go) => this.queue.push({ bytes, go }));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= bytes;
      while (this.queue.length > 0 && this.fits(this.queue[0]!.bytes)) {
        const next = this.queue.shift()!;
        this.used += next.bytes;
        next.go();
      }
    };
  }
}
