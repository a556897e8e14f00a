/**
 * Import roots: the directories on `sys.path` from which the repository's own modules are
 * imported, so that `from pkg.exceptions import E` in `src/pkg/validate.py` reaches
 * `src/pkg/exceptions.py`. Directories are relative to the repository root, '' the root itself.
 */
import { readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';

/** Packaging files that may name where the packages live. */
const CONFIG_FILES = ['pyproject.toml', 'setup.cfg', 'setup.py'];

/**
 * Directories named by packaging configuration, read by pattern rather than parsed (the
 * three formats spell the same few settings):
 * setuptools `package_dir = {"": "src"}` / `package-dir` / `package_dir = =src` and
 * `find_packages(where="src")` / `[tool.setuptools.packages.find] where = ["src"]`,
 * poetry `packages = [{include = "pkg", from = "src"}]`, pdm `package-dir = "src"`,
 * hatch `packages = ["src/pkg"]` (the package's parent).
 */
const DECLARATIONS: { pattern: RegExp; parent?: boolean }[] = [
  { pattern: /package[-_]dir\s*=\s*\{[^}]*?(?:""|'')\s*[:=]\s*["']([^"']+)["']/g },
  { pattern: /package[-_]dir\s*=\s*["']([^"']+)["']/g },
  { pattern: /package_dir\s*=\s*\n?[ \t]*=[ \t]*(\S+)/g },
  { pattern: /\bwhere\s*=\s*\[?\s*["']?([\w./-]+)/g },
  { pattern: /\bfrom\s*=\s*["']([^"']+)["']/g },
  { pattern: /\bpackages\s*=\s*\[\s*["']([\w./-]+\/[\w.-]+)["']/g, parent: true },
];

function normalizeDir(dir: string): string {
  const clean = posix.normalize(dir.replace(/\\/g, '/')).replace(/^\.\/?|\/$/g, '');
  return clean === '.' ? '' : clean;
}

/** The directories the repository's packaging files declare as package roots. */
export async function declaredRoots(root: string): Promise<string[]> {
  const found: string[] = [];
  for (const name of CONFIG_FILES) {
    let text: string;
    try {
      text = await readFile(join(root, name), 'utf8');
    } catch {
      continue; // absent: most repositories have only one or two of these
    }
    for (const { pattern, parent } of DECLARATIONS) {
      for (const m of text.matchAll(pattern)) {
        const dir = normalizeDir(m[1]!);
        found.push(parent ? posix.dirname(dir).replace(/^\.$/, '') : dir);
      }
    }
  }
  return found;
}

/**
 * The import roots of a repository whose Python files are `files`, in the order Python
 * would meet them: declared directories, then `src/`, then the repository root, then every
 * other directory that holds a top-level package (a directory with `__init__.py` whose
 * parent has none), shallowest first. A declared directory without Python files is ignored.
 */
export function importRoots(files: readonly string[], declared: readonly string[] = []): string[] {
  const dirs = new Set<string>();
  const packages = new Set<string>();
  for (const file of files) {
    const dir = posix.dirname(file) === '.' ? '' : posix.dirname(file);
    if (posix.basename(file) === '__init__.py') packages.add(dir);
    for (let d = dir; ; d = posix.dirname(d) === '.' ? '' : posix.dirname(d)) {
      dirs.add(d);
      if (d === '') break;
    }
  }
  const discovered = [...packages]
    .map((p) => (posix.dirname(p) === '.' ? '' : posix.dirname(p)))
    .filter((parent) => !packages.has(parent))
    .sort((a, b) => a.split('/').length - b.split('/').length || (a < b ? -1 : 1));
  const candidates = [...declared.map(normalizeDir), 'src', '', ...discovered];
  return [...new Set(candidates)].filter((d) => dirs.has(d) && !packages.has(d));
}
