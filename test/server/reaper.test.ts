/** The idle reaper, driven with explicit times (a fake clock) against real sandboxes. */
import { join } from 'node:path';
import t from 'tap';
import { fixtureCorpus } from '../helpers/fixture-corpus.js';
import { DEFAULT_EPISODE_LIMITS } from '../../env/episode.js';
import { DockerSandboxPool } from '../../docker/pool.js';
import { EpisodeService, type Log } from '../../server/episodes.js';
import { createMetrics } from '../../server/metrics.js';

const { corpus, cacheDir, dir } = await fixtureCorpus(t);
const pool = await DockerSandboxPool.start({ warm: 1, max: 4 });
t.teardown(() => pool.close());

const MINUTE = 60_000;
function silentLog(): Log {
  return { info: () => {}, error: () => {}, child: () => silentLog() };
}
const manager: EpisodeService = new EpisodeService({
  corpus,
  pool,
  cacheDir,
  limits: DEFAULT_EPISODE_LIMITS,
  maxEpisodes: 4,
  trajectoryFile: join(dir, 'trajectories.jsonl'),
  log: silentLog(),
  metrics: createMetrics(null, () => manager.runningByTask()),
  idleTimeoutMs: 10 * MINUTE,
  maxEpisodeMs: 60 * MINUTE,
  retainMs: 30 * MINUTE,
  maxEnded: 100,
});
t.teardown(() => manager.shutdown());

t.test('an idle episode is closed at the idle limit, not before, and forgotten after retention', async (t) => {
  const episode = manager.get((await manager.reset({ task: 'dep_search' })).episode_id);
  const last = episode.lastActivity;
  t.same((await manager.reap(last + 10 * MINUTE - 1)).closed, []);
  t.equal(manager.running, 1);
  t.same((await manager.reap(last + 10 * MINUTE)).closed, [episode.id]);
  t.equal(manager.get(episode.id).state().status, 'closed', 'still queryable once closed');
  t.equal(manager.running, 0, 'its sandbox is released');
  const ended = episode.endedAt!.getTime();
  t.same((await manager.reap(ended + 30 * MINUTE - 1)).forgotten, []);
  t.same((await manager.reap(ended + 30 * MINUTE)).forgotten, [episode.id]);
  t.throws(() => manager.get(episode.id), { code: 'HGYM_ERR_NOT_FOUND' });
});

t.test('a busy episode is still closed at the age limit', async (t) => {
  const episode = manager.get((await manager.reset({ task: 'dep_search' })).episode_id);
  const born = episode.createdAt.getTime();
  await episode.step({ tool: 'think', arguments: { thought: 'keeping busy' } });
  // Activity just now keeps it under the idle limit; its age does not.
  episode.lastActivity = born + 60 * MINUTE;
  t.same((await manager.reap(born + 60 * MINUTE - 1)).closed, []);
  t.same((await manager.reap(born + 60 * MINUTE)).closed, [episode.id]);
});
