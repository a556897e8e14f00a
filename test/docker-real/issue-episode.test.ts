/** An imported SWE-style issue_localize instance as a real episode: its own snapshot folder, gold through steps. */
import { join } from 'node:path';
import t from 'tap';
import { snapshotsOf } from '../../env/corpus/load.js';
import { importSwe } from '../../env/corpus/swe.js';
import { Episode } from '../../env/episode.js';
import { DockerSandboxPool } from '../../docker/pool.js';
import { buggyRepo } from '../helpers/git-repos.js';

t.test('an imported issue, commented at the gold line through the editor, scores 1', async (t) => {
  const dir = t.testdir({ repo: {}, corpus: {}, cache: {} });
  const { record } = buggyRepo(join(dir, 'repo'));
  const { instances } = await importSwe([record], async () => join(dir, 'repo'), join(dir, 'corpus'));
  const instance = instances[0]!;
  await using pool = await DockerSandboxPool.start({ warm: 1, max: 2 });
  const snapshot = await snapshotsOf(join(dir, 'corpus'))(instance);
  const episode = await Episode.reset({ instance, snapshot, pool, cacheDir: join(dir, 'cache') });
  t.teardown(() => episode.close());
  const log = await episode.step({ tool: 'execute_bash', arguments: { command: 'git log --oneline | wc -l; grep -c "x <= lo" pkg/core.py' } });
  t.match(log.observation.text, /^1\n1\n/, 'one commit, the buggy line is there, no fix in sight');
  const line = instance.gold.lines[0]!;
  await episode.step({ tool: 'str_replace_editor', arguments: { command: 'insert', path: `/workspace/shapes/${line.file}`, insert_line: line.start - 1, new_str: '    # the lower bound comparison is off' } });
  const done = await episode.step({ tool: 'finish', arguments: {} });
  t.same([done.terminated, done.reward], [true, 1], JSON.stringify(done.info));
});
