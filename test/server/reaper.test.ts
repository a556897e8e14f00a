/** The idle reaper, driven with explicit times (a fake clock) against real sandboxes. */
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { loadCorpus } from '../../env/corpus/load.js';
import { DEFAULT_EPISODE_LIMITS } from '../../env/episode.js';
import { FAMILIES, generateForRepo, writeInstances } from '../../env/tasks/generate.js';
import { DockerSandboxPool } from '../../docker/pool.js';
import { EpisodeManager, type Log } from '../../server/episodes.js';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'tasks', 'shapes');
const root = t.testdir({ corpus: { repos: {} }, cache: {} });
const { instances } = await generateForRepo({ root: FIXTURE, name: 'shapes' }, { seed: 1 });
await writeInstances(join(root, 'corpus', 'tasks'), instances, FAMILIES);
symlinkSync(FIXTURE, join(root, 'corpus', 'repos', 'shapes'));
const pool = await DockerSandboxPool.start({ warm: 1, max: 4 });
t.teardown(() => pool.close());

const MINUTE = 60_000;
function silentLog(): Log {
  return { info: () => {}, error: () => {}, child: () => silentLog() };
}
const manager = new EpisodeManager({
  corpus: await loadCorpus(join(root, 'corpus')),
  pool,
  cacheDir: join(root, 'cache'),
  limits: DEFAULT_EPISODE_LIMITS,
  maxEpisodes: 4,
  trajectoryFile: join(root, 'trajectories.jsonl'),
  log: silentLog(),
  idleTimeoutMs: 10 * MINUTE,
  maxEpisodeMs: 60 * MINUTE,
  retainMs: 30 * MINUTE,
});
t.teardown(() => manager.closeAll());

t.test('an idle episode is closed at the idle limit, not before, and forgotten after retention', async (t) => {
  const episode = await manager.reset({ task: 'dep_search' });
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
  const episode = await manager.reset({ task: 'dep_search' });
  const born = episode.createdAt.getTime();
  await episode.step({ tool: 'think', arguments: { thought: 'keeping busy' } });
  // Activity just now keeps it under the idle limit; its age does not.
  episode.lastActivity = born + 60 * MINUTE;
  t.same((await manager.reap(born + 60 * MINUTE - 1)).closed, []);
  t.same((await manager.reap(born + 60 * MINUTE)).closed, [episode.id]);
});
