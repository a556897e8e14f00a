/** Git repositories built by the tests themselves, with the history a test needs. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const git = (cwd: string, ...args: string[]): string =>
  execFileSync('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', ...args], { cwd, encoding: 'utf8' });

/** A repository with a buggy base commit and a fix commit; the record is what SWE-Gym would hold. */
export function buggyRepo(dir: string): { base: string; record: Record<string, string> } {
  mkdirSync(join(dir, 'pkg'), { recursive: true });
  mkdirSync(join(dir, 'tests'), { recursive: true });
  writeFileSync(join(dir, 'pkg', '__init__.py'), '');
  const core = (cmp: string) => `"""Core helpers."""\n\n\ndef clamp(x, lo, hi):\n    """Keep x within lo and hi."""\n    if x ${cmp} lo:\n        return lo\n    if x > hi:\n        return hi\n    return x\n\n\ndef double(x):\n    """Twice x."""\n    return 2 * x\n`;
  writeFileSync(join(dir, 'pkg', 'core.py'), core('<='));
  writeFileSync(join(dir, 'pkg', 'util.py'), 'def unrelated():\n    return 1\n');
  writeFileSync(join(dir, 'tests', 'test_core.py'), 'from pkg.core import clamp\n\n\ndef test_clamp():\n    assert clamp(0, 0, 5) == 0\n');
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-qm', 'base');
  const base = git(dir, 'rev-parse', 'HEAD').trim();
  writeFileSync(join(dir, 'pkg', 'core.py'), core('<'));
  git(dir, 'commit', '-qam', 'fix clamp at the lower bound');
  const patch = git(dir, 'diff', `${base}`, 'HEAD');
  return { base, record: { instance_id: 'acme__shapes-1', repo: 'acme/shapes', base_commit: base, problem_statement: 'clamp(lo, lo, hi) should be lo; it returns lo by a wrong path and breaks monotonicity.', patch } };
}

