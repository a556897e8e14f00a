/**
 * The dep_search gold checked against two independent resolvers run here, on fixture
 * repositories with a `src/` layout, a declared `lib/` package dir, absolute and relative
 * self-imports, aliases, re-exports, mixins and attribute chains: one on Python's ast
 * (resolvers/ast_deps.py), one on Jedi (resolvers/jedi_deps.py, installed from pip into a
 * cache under /tmp keyed by its version). Functions whose `def` line ends with
 * `# uncertain` make a call that cannot be resolved statically and must not be targets.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { analyzeRepo } from '../../../env/analysis/repo.js';
import { MAX_DEPENDENCIES, MIN_DEPENDENCIES } from '../../../env/tasks/dep-search.js';
import { generateForRepo } from '../../../env/tasks/generate.js';
import type { DepSearchInstance } from '../../../schemas/tasks.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/analysis/', import.meta.url));
const RESOLVERS = fileURLToPath(new URL('./resolvers/', import.meta.url));
const JEDI = 'jedi==0.20.0';

/** Each fixture with the sys.path it runs with: what the independent resolvers are told. */
const REPOS = [
  { name: 'ledger', paths: ['src', 'scripts', ''] },
  { name: 'shop', paths: ['lib', ''] },
];

type Resolved = Record<string, string[]>;

function python(script: string, root: string, input: object, env: NodeJS.ProcessEnv = process.env): Resolved {
  const run = spawnSync('python3', [join(RESOLVERS, script), root], { input: JSON.stringify(input), encoding: 'utf8', env, timeout: 120_000 });
  if (run.status !== 0) throw new Error(`${script} failed (${run.status ?? run.signal}): ${run.stderr}`);
  return JSON.parse(run.stdout) as Resolved;
}

/** pip's own index settings, or the local mirror's file: URL when pip is configured with one. */
function pipEnv(): NodeJS.ProcessEnv {
  const config = spawnSync('python3', ['-m', 'pip', 'config', 'list'], { encoding: 'utf8', timeout: 30_000 }).stdout ?? '';
  const mirror = /extra-index-url='([^']*)'/.exec(config)?.[1]?.split(/\s+/).find((u) => u.startsWith('file:'));
  return mirror ? { ...process.env, PIP_INDEX_URL: mirror } : process.env;
}

/** Jedi installed once per version under /tmp; the reason it could not be, otherwise. */
function installJedi(): { path: string } | { skip: string } {
  const path = join(tmpdir(), `hgym-${JEDI.replace('==', '-')}`);
  if (existsSync(join(path, 'jedi'))) return { path };
  const staging = mkdtempSync(`${path}.`);
  const pip = spawnSync('python3', ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--target', staging, JEDI], { encoding: 'utf8', env: pipEnv(), timeout: 180_000 });
  if (pip.status !== 0) {
    rmSync(staging, { recursive: true, force: true });
    return { skip: `pip could not install ${JEDI}: ${(pip.stderr || String(pip.error)).trim().split('\n').pop()}` };
  }
  try {
    renameSync(staging, path);
  } catch {
    rmSync(staging, { recursive: true, force: true }); // another run installed it meanwhile
  }
  return { path };
}

/** Every function and method of a fixture, and which of them are marked uncertain. */
async function functionsOf(root: string): Promise<{ all: string[]; uncertain: string[] }> {
  const analysis = await analyzeRepo(root, { threads: 1 });
  const all: string[] = [];
  const uncertain: string[] = [];
  for (const m of analysis.modules) {
    const lines = readFileSync(join(root, m.file), 'utf8').split('\n');
    for (const d of m.definitions) {
      if (d.kind === 'class') continue;
      all.push(`${d.file}:${d.qualname}`);
      if (lines[d.defLine - 1]!.trimEnd().endsWith('# uncertain')) uncertain.push(`${d.file}:${d.qualname}`);
    }
  }
  return { all, uncertain };
}

function f1(gold: readonly string[], found: readonly string[]): number {
  const hits = gold.filter((g) => found.includes(g)).length;
  return gold.length + found.length === 0 ? 1 : (2 * hits) / (gold.length + found.length);
}

const jedi = installJedi();

for (const repo of REPOS) {
  t.test(`${repo.name}: the gold equals what both independent resolvers find`, async (t) => {
    const root = join(FIXTURES, repo.name);
    const { instances } = await generateForRepo({ root, name: repo.name }, { tasks: ['dep_search'], maxPerRepo: 1000 });
    const gold = new Map(
      (instances as DepSearchInstance[]).map((i) => [`${i.gold.target.file}:${i.gold.target.qualname}`, i.gold.dependencies.map((d) => `${d.file}:${d.qualname}`).sort()]),
    );
    const { all, uncertain } = await functionsOf(root);
    t.ok(gold.size >= 5 && uncertain.length >= 4, `${gold.size} targets kept, ${uncertain.length} marked uncertain`);

    const byAst = python('ast_deps.py', root, { paths: repo.paths, targets: all });
    const resolvers: [string, Resolved][] = [['ast', byAst]];
    if ('path' in jedi) resolvers.push(['jedi', python('jedi_deps.py', root, { paths: repo.paths, targets: [...gold.keys()] }, { ...process.env, PYTHONPATH: jedi.path })]);
    for (const [name, found] of resolvers) {
      const scores = [...gold].map(([target, deps]) => {
        t.same(found[target], deps, `${name}: ${target}`);
        return f1(deps, found[target] ?? []);
      });
      t.equal(scores.reduce((a, b) => a + b, 0) / scores.length, 1, `${name}: mean agreement F1 over ${scores.length} targets`);
    }

    for (const target of uncertain) {
      t.notOk(gold.has(target), `${target} makes an uncertain call and is not a target`);
      const deps = byAst[target]!.length;
      t.ok(deps >= MIN_DEPENDENCIES && deps <= MAX_DEPENDENCIES, `${target} would be a target but for its uncertain call`);
    }
    const eligible = all.filter((f) => !uncertain.includes(f) && byAst[f]!.length >= MIN_DEPENDENCIES && byAst[f]!.length <= MAX_DEPENDENCIES);
    t.same([...gold.keys()].sort(), eligible.sort(), 'every other function with 1 to 5 dependencies is a target');
  });
}

t.test('jedi is installed for the comparison', { skip: 'skip' in jedi ? jedi.skip : false }, async (t) => {
  t.ok('path' in jedi);
});
