import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { generate } from '../../bin/generate.js';
import { main } from '../../bin/cli.js';
import { assertValid, readInstances } from '../../env/tasks/generate.js';
import { parseRepoArg } from '../../env/corpus/source.js';

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', ...args], { cwd, encoding: 'utf8' }).trim();

function makeRepo(root: string): { first: string; second: string } {
  mkdirSync(join(root, 'lib'), { recursive: true });
  const module = (extra: string) =>
    `from .util import helper, Box\n\n\ndef run(x):\n    """Run the helper on the given value and box it."""\n    return Box(helper(x))\n${extra}`;
  writeFileSync(join(root, 'lib', '__init__.py'), '');
  writeFileSync(join(root, 'lib', 'util.py'), 'def helper(x):\n    """Double the value that is passed in."""\n    return 2 * x\n\n\nclass Box:\n    def __init__(self, v):\n        self.v = v\n');
  writeFileSync(join(root, 'lib', 'core.py'), module(''));
  git(root, 'init', '-q', '-b', 'main');
  git(root, 'add', '-A');
  git(root, 'commit', '-qm', 'one');
  const first = git(root, 'rev-parse', 'HEAD');
  writeFileSync(join(root, 'lib', 'core.py'), module('\n\ndef later():\n    """Added in the second commit of the history."""\n    return run(1)\n'));
  git(root, 'commit', '-qam', 'two');
  return { first, second: git(root, 'rev-parse', 'HEAD') };
}

t.test('url@rev is split unless the @ belongs to the URL', async (t) => {
  t.same(parseRepoArg('https://host/x/y.git@v1.2'), { url: 'https://host/x/y.git', rev: 'v1.2' });
  t.same(parseRepoArg('git@host:x/y.git'), { url: 'git@host:x/y.git', rev: null });
  t.same(parseRepoArg('/some/dir'), { url: '/some/dir', rev: null });
});

t.test('generate from a git repository at a revision writes valid JSONL per family', async (t) => {
  const dir = t.testdir({});
  const origin = join(dir, 'origin');
  const { first } = makeRepo(origin);
  process.env.HOME = join(dir, 'home');
  const out = join(dir, 'out');
  let printed = '';
  const status = await generate(['--repo', `file://${origin}@${first}`, '--out', out, '--seed', '3'], (text) => (printed += text));
  t.equal(status, 0);
  const summary = JSON.parse(printed) as { instances: Record<string, number>; files_parsed: number };
  t.equal(summary.files_parsed, 3);
  const localize = await readInstances(join(out, 'func_localize.jsonl'));
  const deps = await readInstances(join(out, 'dep_search.jsonl'));
  t.equal(localize.length, summary.instances.func_localize);
  t.equal(deps.length, summary.instances.dep_search);
  for (const i of [...localize, ...deps]) assertValid(i);
  t.notOk(readFileSync(join(out, 'func_localize.jsonl'), 'utf8').includes('later'), 'the second commit is not in the snapshot');
  const run = deps.find((d) => d.task === 'dep_search' && d.gold.target.qualname === 'run');
  t.same(run?.task === 'dep_search' ? run.gold.dependencies.map((d) => d.qualname) : [], ['helper', 'Box']);
});

t.test('bad arguments are refused with a usage message and status 2', async (t) => {
  const stderr = t.capture(process.stderr, 'write');
  t.equal(await generate([]), 2);
  t.equal(await generate(['--repo', '.', '--tasks', 'nope']), 2);
  t.equal(await generate(['--repo', '.', '--max-per-repo', '0']), 2);
  t.equal(await main(['generate', '--bogus']), 2);
  t.match(stderr().map((c) => String(c.args[0])).join(''), /usage: hgym generate/);
});
