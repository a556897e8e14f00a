/** A server on a corpus with a real sandbox pool, on a loopback port, closed at the test's end. */
import { join } from 'node:path';
import type { Test } from 'tap';
import { HgymClient } from '../../clients/ts/rest.js';
import { DockerSandboxPool } from '../../docker/pool.js';
import type { Corpus } from '../../env/corpus/load.js';
import { build } from '../../server/app.js';

export async function serveCorpus(t: Test, corpus: Corpus, dir: string): Promise<{ client: HgymClient; pool: DockerSandboxPool }> {
  const pool = await DockerSandboxPool.start({ warm: 1, max: 4 });
  const app = await build({ instanceId: pool.owner.id, corpus, pool, cacheDir: join(dir, 'workspaces') });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(async () => {
    await app.close();
    await pool.close();
  });
  return { client: new HgymClient({ url: `http://127.0.0.1:${(app.server.address() as { port: number }).port}` }), pool };
}
