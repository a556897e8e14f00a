/**
 * Acquires that wait for a free sandbox while every engine is at its maximum, in the order they
 * are served: first come first served, except a priority waiter, which goes to the front.
 */
import { hgymError } from '../env/errors.js';
import type { AcquireOptions, Sandbox } from '../env/sandbox.js';

export interface Waiter {
  readonly image: string;
  resolve(sandbox: Sandbox): void;
  reject(err: Error): void;
}

export class WaiterQueue {
  private readonly waiters: Waiter[] = [];

  get length(): number {
    return this.waiters.length;
  }

  /** The waiter served next, if any. */
  first(): Waiter | undefined {
    return this.waiters[0];
  }

  /** The longest waiter of `image`, if any. */
  of(image: string): Waiter | undefined {
    return this.waiters.find((w) => w.image === image);
  }

  /**
   * Waits for a sandbox of `image` until a waiter's resolve() hands one over; rejects with
   * HGYM_ERR_CAPACITY after options.waitMs (default 10 s; at once when 0), with the signal's
   * reason when it aborts. `capacity` is the sandboxes the engines that answer hold in all.
   */
  wait(image: string, options: AcquireOptions, capacity: number): Promise<Sandbox> {
    const waitMs = options.waitMs ?? 10_000;
    if (waitMs <= 0) return Promise.reject(hgymError('HGYM_ERR_CAPACITY', `all ${capacity} sandboxes are in use`));
    return new Promise<Sandbox>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
      };
      const waiter: Waiter = {
        image,
        resolve: (s) => (done(), resolve(s)),
        reject: (e) => (done(), reject(e)),
      };
      const timer = setTimeout(() => waiter.reject(hgymError('HGYM_ERR_CAPACITY', `all ${capacity} sandboxes stayed in use for ${waitMs} ms`)), waitMs);
      const onAbort = (): void => waiter.reject(options.signal!.reason as Error);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      if (options.priority) this.waiters.unshift(waiter);
      else this.waiters.push(waiter);
    });
  }

  /** Rejects every waiter with `reason`. */
  rejectAll(reason: Error): void {
    for (const waiter of this.waiters.splice(0)) waiter.reject(reason);
  }
}
