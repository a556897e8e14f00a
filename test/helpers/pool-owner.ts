/**
 * A stand-in server process for the crash test: starts a pool, waits until it is warm,
 * leases one sandbox, prints the owner id, then idles until it is killed.
 */
import { DockerSandboxPool } from '../../docker/pool.js';

const pool = await DockerSandboxPool.start({ warm: 2, max: 4 });
await pool.waitWarm(2, 60_000);
const leased = await pool.acquire();
await leased.exec('sleep 1000 > /dev/null 2>&1 &', { timeoutMs: 5_000 });
process.stdout.write(`${JSON.stringify({ owner: pool.owner.id, leased: leased.id })}\n`);
setInterval(() => {}, 60_000);
