import { execFileSync } from 'node:child_process';
import t from 'tap';
import { analyzeModule } from '../../../env/analysis/module.js';
import { parsePython } from '../../../env/analysis/parse.js';
import type { Definition } from '../../../env/analysis/types.js';
import { CONFIRMING_TESTS, degenerateBodies, judge, screeningTrials, type DegenerateName } from '../../../env/tasks/degenerate.js';
import { candidateOf } from '../../../env/tasks/func-gen.js';
import { applyEdit } from '../../../env/tasks/edits.js';

const SOURCE = `import contextlib


def scale(values, factor=2, *rest, key=None):
    """Each value times factor."""
    return [v * factor for v in values]


def nothing():
    """No arguments at all."""
    return 42


class Box:
    def put(self, item, *, where=None):
        """Put item in the box."""
        self.items.append(item)

    @staticmethod
    def make(size):
        """A box of size."""
        return Box()

    @classmethod
    def of(cls, *items):
        """A box of items."""
        return cls()

    def walk(self, start):
        """Yield the items from start."""
        def inner():
            return 1
        for item in self.items[start:]:
            yield item

    async def fetch(self, url):
        """The page at url."""
        return url

    async def stream(self, url):
        """Chunks of the page."""
        yield url


@contextlib.contextmanager
def opened(path):
    """An open file."""
    yield path


def tabbed(x):
\t"""Indented with a tab."""
\tif x:
\t\treturn x
\treturn 0
`;

const defs = (() => {
  const result = analyzeModule('m.py', SOURCE);
  if ('error' in result) throw new Error(result.error);
  return new Map(result.analysis.definitions.map((d) => [d.qualname, d]));
})();

function bodiesOf(qualname: string) {
  const def = defs.get(qualname)!;
  const c = candidateOf(def, SOURCE)!;
  return { def, c, bodies: new Map(degenerateBodies(SOURCE, def, c.placeholder).map((b) => [b.name, b.text])) };
}

/** The module with `qualname`'s body replaced by its degenerate `name`, then `probe`, run by the host's Python; what it printed. */
function run(qualname: string, name: DegenerateName, probe: string): string {
  const { c, bodies } = bodiesOf(qualname);
  const changed = applyEdit(SOURCE, { start: c.start, end: c.end, text: bodies.get(name)! });
  return execFileSync('python3', ['-c', `${changed}\n${probe}\n`], { encoding: 'utf8', timeout: 10_000 }).trim();
}

t.test('each body replaces the lines after the docstring, indented as the placeholder, and parses', async (t) => {
  for (const [qualname, def] of defs) {
    if (def.kind === 'class' || !def.docstring) continue;
    const { c, bodies } = bodiesOf(qualname);
    t.ok(bodies.size >= 3, `${qualname}: ${[...bodies.keys()].join(', ')}`);
    const indent = /^[ \t]*/.exec(c.placeholder)![0];
    for (const [name, text] of bodies) {
      const lines = text.split('\n').slice(0, -1);
      t.ok(lines.every((l) => l.startsWith(indent)) && !/^[ \t]/.test(lines[0]!.slice(indent.length)), `${qualname} ${name}: indented under ${JSON.stringify(indent)}`);
      const changed = applyEdit(SOURCE, { start: c.start, end: c.end, text });
      t.notOk('error' in parsePython(changed), `${qualname} ${name} parses`);
      t.ok(changed.includes(def.docstring!.raw), `${qualname} ${name} keeps the docstring`);
    }
  }
  execFileSync('python3', ['-c', 'import sys; [compile(s, "m.py", "exec") for s in sys.argv[1:]]', ...[...defs.values()].filter((d) => d.kind !== 'class' && d.docstring).flatMap((d) => {
    const { c, bodies } = bodiesOf(d.qualname);
    return [...bodies.values()].map((text) => applyEdit(SOURCE, { start: c.start, end: c.end, text }));
  })]);
});

t.test('the first argument is the first a caller passes: after self and cls, not after a staticmethod', async (t) => {
  t.match(bodiesOf('scale').bodies.get('first_argument'), /^ {4}return values\n$/);
  t.match(bodiesOf('Box.put').bodies.get('first_argument'), /^ {8}return item\n$/);
  t.match(bodiesOf('Box.make').bodies.get('first_argument'), /^ {8}return size\n$/);
  t.notOk(bodiesOf('Box.of').bodies.has('first_argument'), '*items only: no plain argument');
  t.notOk(bodiesOf('nothing').bodies.has('first_argument'), 'no arguments');
  t.match(bodiesOf('tabbed').bodies.get('first_argument'), /^\treturn x\n$/);
  t.equal(run('Box.make', 'first_argument', 'print(Box.make(7))'), '7');
  t.equal(run('tabbed', 'anything', 'print(tabbed(0) == "x", tabbed(0) != 1)'), 'True False');
});

t.test('generators stay generators: no items, one object equal to everything, the first argument\'s items', async (t) => {
  for (const qualname of ['Box.walk', 'Box.stream', 'opened']) {
    const names = [...bodiesOf(qualname).bodies.keys()];
    t.same(names.sort(), ['anything_once', 'first_argument_items', 'no_items'], qualname);
  }
  t.notOk(bodiesOf('Box.fetch').bodies.has('no_items'), 'a coroutine is not a generator');
  const walk = 'import inspect\nb = Box(); b.items = []\nprint(inspect.isgeneratorfunction(Box.walk), list(b.walk([3, 4])) if inspect.isgeneratorfunction(Box.walk) else None)';
  t.equal(run('Box.walk', 'no_items', walk), 'True []');
  t.equal(run('Box.walk', 'first_argument_items', walk), 'True [3, 4]');
  t.equal(run('Box.walk', 'anything_once', 'b = Box()\nx, = b.walk(0)\nprint(x == 5, next(b.walk(0)) == "a")'), 'True True');
  t.equal(run('opened', 'anything_once', 'with opened("p") as f:\n    print(f == "content", f.read() == "x")'), 'True True');
  t.equal(run('Box.stream', 'no_items', 'import inspect\nprint(inspect.isasyncgenfunction(Box.stream))'), 'True');
  t.equal(run('Box.fetch', 'anything', 'import asyncio, inspect\nprint(inspect.iscoroutinefunction(Box.fetch), asyncio.run(Box().fetch(1)) == 2)'), 'True True');
});

t.test('the object equal to everything passes the usual weak assertions and fails the strong ones', async (t) => {
  const probe = [
    'r = scale([1], 3)',
    'weak = [r == [3], not (r != [3]), bool(r), 5 in r, r is not None, r.shape == (1,), r.mean() == 3, r[0] == 3, abs(r - 3) < 1e-9,',
    '        round(r, 2) == 3.0, list(r) == [], len(r) == 0, 3 == r, r <= 1 and r >= 1, {r: 1}[r] == 1, next(r) == 7]',
    'strong = [isinstance(r, list), len(r) == 1, list(r) == [3], str(r) == "[3]", hasattr(r, "__array__")]',
    'print(all(weak), any(strong))',
  ].join('\n');
  t.equal(run('scale', 'anything', probe), 'True False');
  t.equal(run('scale', 'none', 'print(scale([1]) is None)'), 'True');
  t.equal(run('scale', 'empty_set', 'print(scale([1]) == set())'), 'True');
});

t.test('screening: one group per candidate, the placeholder first; a test counts as strong only when no body passes it', async (t) => {
  const { def, c } = bodiesOf('scale');
  const { names, trials } = screeningTrials({ ...c, def: def as Definition, tests: ['t::a', 't::b'] }, 12);
  t.same(names.slice(0, 3), ['placeholder', 'anything', 'first_argument'], 'the bodies that pass the most tests first');
  t.same(trials.map((tr) => tr.at_most), [undefined, undefined, ...trials.slice(2).map(() => CONFIRMING_TESTS)], 'the later bodies confirm on a few tests');
  t.ok(trials.every((tr) => tr.group === 'm.py:scale' && tr.timeout === 12 && tr.tests.length === 2 && tr.changes[0]!.code_line === def.span.start));
  t.equal(new Set(trials.map((tr) => tr.changes[0]!.source)).size, trials.length, 'each body its own source');

  const report = (passed: string[]) => ({ tests: ['t::a', 't::b'].map((id) => ({ id, outcome: passed.includes(id) ? ('passed' as const) : ('failed' as const), ms: 1 })), exit: 1 });
  const all = names.map(() => report([]));
  t.same(judge(['t::a', 't::b'], names, all), { strong: ['t::a', 't::b'], passed: Object.fromEntries(names.map((n) => [n, []])), unknown: [], keep: true });
  const split = names.map((n) => (n === 'anything' ? report(['t::a']) : n === 'none' ? report(['t::b']) : report([])));
  const v = judge(['t::a', 't::b'], names, split);
  t.equal(v.keep, false, 'each test passed by some body: left out');
  t.same(v.passed.anything, ['t::a']);
  const timedOut = names.map((n) => (n === 'zero' ? { skipped: 'the trial ended without a result' } : report([])));
  t.same(judge(['t::a', 't::b'], names, timedOut).unknown, ['zero']);
  t.equal(judge(['t::a', 't::b'], names, timedOut).keep, false, 'a body without a result might pass anything');
  const pruned = names.map((n, i) => (i < 2 ? report([]) : { tests: [{ id: 't::b', outcome: 'failed' as const, ms: 1 }], exit: 1 }));
  t.same(judge(['t::a', 't::b'], names, pruned).strong, ['t::b'], 'a test a body did not run does not hold');
});
