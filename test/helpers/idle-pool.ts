/** A sandbox pool that reports fixed counts and lends nothing: for routes that only read its stats. */
import type { PoolStats, SandboxPool } from '../../env/sandbox.js';

export function idlePool(warm = 1, leased = 0): SandboxPool {
  const stats: PoolStats = { target: 2, warm, starting: 0, leased, created: warm + leased, lost: 0, failed: 0 };
  return {
    acquire: () => Promise.reject(new Error('this pool lends no sandbox')),
    stats: () => stats,
    close: async () => {},
    destroy: async () => {},
    [Symbol.asyncDispose]: async () => {},
  };
}
