import { execFileSync } from 'node:child_process';
import t from 'tap';
import { analyzeModule } from '../../../env/analysis/module.js';
import { parsePython } from '../../../env/analysis/parse.js';
import { applyMutation, MUTATION_KINDS, mutationsOf } from '../../../env/tasks/mutate.js';

const SOURCE = `def f(xs, lo, flag):
    """Exercise every mutation kind."""
    total = 0
    for x in xs:
        if x < lo and flag:
            total += x
        total = max(total, lo)
    if total == 3:
        total = divmod(total, 2)[0]
    record = []
    record.append(total)
    return total + 1
`;

/** Runs f on fixed inputs under Python (on the host) and returns what it printed. */
function outputs(source: string): string {
  const probe = `${source}\nfor args in [([1, 2, 5], 2, True), ([0, 1], 1, False), ([3], 4, True), ([1, 2], 0, True), ([], 3, True), ([3], 3, True)]:\n    try:\n        print(f(*args))\n    except Exception as e:\n        print(type(e).__name__)\n`;
  return execFileSync('python3', ['-c', probe], { encoding: 'utf8', timeout: 10_000 });
}

t.test('each mutation kind produces code that parses and behaves differently', async (t) => {
  const result = analyzeModule('m.py', SOURCE);
  if ('error' in result) throw new Error(result.error);
  const def = result.analysis.definitions[0]!;
  const mutations = mutationsOf(SOURCE, def);
  const original = outputs(SOURCE);
  for (const kind of MUTATION_KINDS) {
    const ofKind = mutations.filter((m) => m.kind === kind);
    t.ok(ofKind.length > 0, `${kind} has candidates`);
    const changed = ofKind.filter((m) => {
      const mutated = applyMutation(SOURCE, m);
      t.ok(mutated !== null && !('error' in parsePython(mutated)), `${kind} at line ${m.line} parses`);
      return mutated !== null && outputs(mutated) !== original;
    });
    t.ok(changed.length > 0, `${kind}: at least one mutation changes behaviour (${ofKind.map((m) => m.summary).join('; ')})`);
  }
  t.notOk(mutations.some((m) => m.line === 2), 'the docstring is never touched');
});

t.test('mutations stay inside the function body', async (t) => {
  const src = 'LIMIT = 3\n\n\ndef g(a, b=1):\n    """Doc."""\n    return a < LIMIT\n\n\ndef h():\n    return 2 > 1\n';
  const result = analyzeModule('m.py', src);
  if ('error' in result) throw new Error(result.error);
  const g = result.analysis.definitions.find((d) => d.name === 'g')!;
  const lines = new Set(mutationsOf(src, g).map((m) => m.line));
  t.same([...lines], [6]);
});
