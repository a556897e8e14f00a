/**
 * The server as the clients meet it: built on the fixture corpus with a real Docker pool,
 * listening on a free loopback port. Shared by the TypeScript and curl client tests.
 */
import { createServer } from 'node:net';
import type { Test } from 'tap';
import { DockerSandboxPool } from '../../docker/pool.js';
import { build, type BuildOptions } from '../../server/app.js';
import { fixtureCorpus } from '../helpers/fixture-corpus.js';

export async function liveServer(t: Test, options: Partial<BuildOptions> = {}) {
  const { corpus, instances, cacheDir } = await fixtureCorpus(t);
  const pool = await DockerSandboxPool.start({ warm: 2, max: 8 });
  const app = await build({ instanceId: pool.owner.id, corpus, pool, cacheDir, ...options });
  t.teardown(async () => {
    await app.close();
    await pool.close();
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, instances, corpus, pool, app };
}

/** A loopback port nothing listens on (it was free a moment ago): for "no server" cases. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
    probe.once('error', reject);
  });
}
