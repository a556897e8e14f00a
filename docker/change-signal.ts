/**
 * A pool's change signal: the pool calls notify() whenever a count that someone waits on may have
 * changed, and every wait is resolved by these events, never by polling.
 */
import { EventEmitter } from 'node:events';
import { hgymError } from '../env/errors.js';

export class ChangeSignal {
  private readonly changes = new EventEmitter();

  /** `closed` says whether the pool closed, which ends every wait not made `whileClosed`. */
  constructor(private readonly closed: () => boolean) {
    this.changes.setMaxListeners(0);
  }

  notify(): void {
    this.changes.emit('change');
  }

  /** Resolves once `done()` holds, checked now and on every change; rejects after timeoutMs or when the pool closes. */
  until(done: () => boolean, timeoutMs: number, timeoutError: () => Error, whileClosed = false): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (done()) return finish(), resolve();
        if (!whileClosed && this.closed()) return finish(), reject(hgymError('HGYM_ERR_POOL_CLOSED'));
      };
      const timer = setTimeout(() => (finish(), reject(timeoutError())), timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        this.changes.off('change', check);
      };
      this.changes.on('change', check);
      check();
    });
  }
}
