/**
 * How many ended episodes the server keeps (server/episodes.ts, beside episodes.test.ts for
 * the routes): past maxEnded the longest-ended is forgotten, while the trajectory log keeps
 * every record and is written out before the server is gone. Real sandboxes, through the API.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { DockerSandboxPool } from '../../docker/pool.js';
import { build } from '../../server/app.js';
import { fixtureCorpus } from '../helpers/fixture-corpus.js';

const { corpus, dir, cacheDir } = await fixtureCorpus(t);
const pool = await DockerSandboxPool.start({ warm: 1, max: 3 });
t.teardown(() => pool.close());

const trajectoryFile = join(dir, 'trajectories.jsonl');
const app = await build({ instanceId: 'retention-test', corpus, pool, cacheDir, trajectoryFile, maxEnded: 2 });

const reset = async (t: Test): Promise<string> => {
  const res = await app.inject({ method: 'POST', url: '/v1/episodes', payload: { task: 'dep_search' } });
  t.equal(res.statusCode, 201, 'reset');
  return res.json().episode_id as string;
};
const close = (id: string) => app.inject({ method: 'DELETE', url: `/v1/episodes/${id}` });
const lookups = async (id: string) => [(await app.inject(`/v1/episodes/${id}`)).statusCode, (await app.inject(`/v1/episodes/${id}/trajectory`)).statusCode];
const logged = () => readFileSync(trajectoryFile, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { episode_id: string }).episode_id);

t.test('past maxEnded the longest-ended episode answers 404; running ones are kept', async (t) => {
  const running = await reset(t);
  const ended: string[] = [];
  for (let i = 0; i < 3; i++) {
    const id = await reset(t);
    t.equal((await close(id)).statusCode, 200);
    ended.push(id);
  }
  const [first, second, third] = ended as [string, string, string];
  const gone = await app.inject(`/v1/episodes/${first}`);
  t.same([gone.statusCode, gone.json().code], [404, 'HGYM_ERR_NOT_FOUND']);
  t.same(await lookups(first), [404, 404], 'state and trajectory are both forgotten');
  t.same(await lookups(second), [200, 200]);
  t.same(await lookups(third), [200, 200]);
  t.equal((await app.inject(`/v1/episodes/${running}`)).json().status, 'running', 'a running episode is never evicted');

  await app.close();
  t.same(logged().sort(), [...ended, running].sort(), 'the log holds every episode, the evicted one and the one closed at shutdown');
});
