/**
 * What a sandbox image holds, by content, and the snapshot files it must not hold. An agent
 * that finds a byte-identical copy of a snapshot file in the image restores what its task
 * removed with `cp` (DESIGN §9), so a corpus is checked against the image's files when it is
 * built and again before it is served. The Docker adapter lists an image's files
 * (docker/image-files.ts); this module only compares.
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { hgymError } from '../errors.js';
import { imageOf } from './environment.js';
import { loadCorpus } from './load.js';
import { snapshotOf, type Snapshot } from './snapshot.js';

export interface ImageFile {
  path: string;
  size: number;
  sha256: string;
}

export interface ImageFiles {
  /** The image as named (`hgym/sandbox:latest`) and the engine's id of what the name meant. */
  image: string;
  id: string;
  /** Regular files by sha256; one content may sit at several paths. */
  byDigest: ReadonlyMap<string, readonly ImageFile[]>;
}

/**
 * Files shorter than this are left out of the comparison: empty `__init__.py` files, `pass`
 * stubs and one-line version files are shared by unrelated projects and carry no answer.
 * Every docstring and body a task removes lives in a file far longer.
 */
export const MIN_COMPARED_BYTES = 64;

/**
 * Licence texts the image ships for every Debian package: a repository's COPYING that is
 * byte-identical to the GPL's text is a licence, not a copy of the repository.
 */
const COMMON_TEXTS = '/usr/share/common-licenses/';

export interface Collision {
  /** The snapshot's file, relative to its root. */
  file: string;
  /** Where the image holds the same bytes. */
  imagePath: string;
}

export function imageFilesOf(image: string, id: string, files: Iterable<ImageFile>): ImageFiles {
  const byDigest = new Map<string, ImageFile[]>();
  for (const file of files) byDigest.set(file.sha256, [...(byDigest.get(file.sha256) ?? []), file]);
  return { image, id, byDigest };
}

/** The snapshot's files whose exact bytes the image holds, in path order. */
export function imageCollisions(snapshot: Pick<Snapshot, 'files'>, image: ImageFiles): Collision[] {
  const found: Collision[] = [];
  for (const [file, digest] of snapshot.files) {
    const copy = image.byDigest.get(digest)?.find((f) => f.size >= MIN_COMPARED_BYTES && !f.path.startsWith(COMMON_TEXTS));
    if (copy) found.push({ file, imagePath: copy.path });
  }
  return found.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}

/**
 * Importable copies of a library in the image, at any version: a `<name>/` package directory
 * holding Python files, or a `<name>.py` module, anywhere (site-packages, another package's
 * `_vendor/`). A different version of a library still holds most of its docstrings, which a
 * hash comparison cannot see; for the default corpus, whose libraries are known by name,
 * this check sees them.
 */
export function shippedCopies(image: ImageFiles, topLevel: { packages: readonly string[]; modules: readonly string[] }): string[] {
  const dirs = new Set(topLevel.packages);
  const modules = new Set(topLevel.modules);
  const copies = new Set<string>();
  for (const files of image.byDigest.values()) {
    for (const { path } of files) {
      if (!path.endsWith('.py')) continue;
      const parts = path.split('/');
      const base = parts.at(-1)!.slice(0, -'.py'.length);
      const parent = parts.at(-2);
      if (parent !== undefined && dirs.has(parent)) copies.add(parts.slice(0, -1).join('/'));
      else if (modules.has(base)) copies.add(path);
    }
  }
  return [...copies].sort();
}

/** The top-level packages (directories) and modules (`.py` files) of a repository root. */
export async function topLevelOf(root: string): Promise<{ packages: string[]; modules: string[] }> {
  const entries = await readdir(root, { withFileTypes: true });
  return {
    packages: entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name),
    modules: entries.filter((e) => e.isFile() && e.name.endsWith('.py')).map((e) => e.name.slice(0, -'.py'.length)),
  };
}

/** A repository's collisions in a phrase: how many, and the first as an example. */
export function describeCollisions(collisions: readonly Collision[], image: ImageFiles): string {
  const [first] = collisions;
  const example = first ? `, e.g. ${first.file} = ${first.imagePath}` : '';
  return `${collisions.length} file(s) of its snapshot are in the sandbox image ${image.image}${example}`;
}

export interface RepoCollisions {
  repo: string;
  instances: number;
  /** The image holding them: the sandbox image or the repository's environment. */
  image: string;
  collisions: Collision[];
}

/** The files of an environment's image, by its image name. */
export type EnvironmentFiles = (image: string) => Promise<ImageFiles>;

/**
 * The repositories of a corpus's served instances (every task file under `tasks/`) that
 * have files in the image their episodes run in: the sandbox image, or their environment's
 * (which holds the sandbox image's files too). Repositories under `repos/` that no instance
 * uses are not served and not checked.
 */
export async function corpusCollisions(dir: string, image: ImageFiles, environments?: EnvironmentFiles): Promise<RepoCollisions[]> {
  const corpus = await loadCorpus(dir);
  const served = new Map<string, { repo: string; image: string | undefined; instances: number }>();
  for (const instance of corpus.instances.values()) {
    const repo = instance.repo.dir ?? instance.repo.name;
    const env = imageOf(instance.repo).image;
    const key = `${repo}\n${env ?? ''}`;
    const entry = served.get(key) ?? { repo, image: env, instances: 0 };
    entry.instances++;
    served.set(key, entry);
  }
  const found: RepoCollisions[] = [];
  for (const [, entry] of [...served].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (entry.image && !environments) throw hgymError('HGYM_ERR_INTERNAL', `${entry.repo} runs in ${entry.image}, and no way to list its files was given`);
    const files = entry.image ? await environments!(entry.image) : image;
    const collisions = imageCollisions(await snapshotOf(join(dir, 'repos', entry.repo)), files);
    if (collisions.length > 0) found.push({ repo: entry.repo, instances: entry.instances, image: files.image, collisions });
  }
  return found;
}

/**
 * Refuses a corpus that serves any file the image holds: the last check before serving, for
 * corpora built before the check existed, added to by hand, or an image that changed since.
 */
export async function assertCorpusClear(dir: string, image: ImageFiles, environments?: EnvironmentFiles): Promise<void> {
  const found = await corpusCollisions(dir, image, environments);
  if (found.length === 0) return;
  const lines = found.map((r) => {
    const shown = r.collisions.slice(0, 5).map((c) => `${c.file} = ${c.imagePath}`).join('; ');
    const more = r.collisions.length > 5 ? `; and ${r.collisions.length - 5} more` : '';
    return `${r.repo} (${r.instances} instances, in ${r.image}): ${shown}${more}`;
  });
  throw hgymError(
    'HGYM_ERR_CORPUS_LEAK',
    `${image.image} (${image.id.slice(0, 19)})`,
    `${dir}: ${lines.join(' | ')}. Remove these repositories' instances from ${join(dir, 'tasks')} or regenerate the corpus`,
  );
}

/**
 * Why the image rules out serving the library at `root`, or null: files of it byte for byte,
 * or an importable copy of one of its top-level packages at any version.
 */
export async function whyImageHolds(root: string, image: ImageFiles): Promise<string | null> {
  const collisions = imageCollisions(await snapshotOf(root), image);
  if (collisions.length > 0) return describeCollisions(collisions, image);
  const [copy, ...more] = shippedCopies(image, await topLevelOf(root));
  if (copy === undefined) return null;
  return `the sandbox image ${image.image} ships it (any version leaks its docstrings) at ${copy}${more.length ? ` and ${more.length} more place(s)` : ''}`;
}

/** What a repository is imported as: packages (with `__init__.py`) and modules at its root or in `src/`, tests left out. */
export async function importableOf(root: string): Promise<{ packages: string[]; modules: string[] }> {
  const packages: string[] = [];
  const modules: string[] = [];
  for (const base of [root, join(root, 'src')]) {
    const entries = await readdir(base, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      if (/^(tests?|testing|docs?|examples?|benchmarks?|setup|conftest|noxfile)(\.py)?$/.test(e.name) || e.name.startsWith('.')) continue;
      if (e.isDirectory() && existsSync(join(base, e.name, '__init__.py'))) packages.push(e.name);
      else if (e.isFile() && e.name.endsWith('.py')) modules.push(e.name.slice(0, -'.py'.length));
    }
  }
  return { packages, modules };
}

/**
 * Why a repository's environment must not be used: files of its snapshot byte for byte, or an
 * importable copy of its own packages at any version (a dependency that depends on it back).
 */
export async function whyEnvironmentHolds(root: string, environment: ImageFiles): Promise<string | null> {
  const collisions = imageCollisions(await snapshotOf(root), environment);
  if (collisions.length > 0) return describeCollisions(collisions, environment).replace('the sandbox image', 'the environment image');
  const { packages, modules } = await importableOf(root);
  const names = new Set([...packages, ...modules.map((m) => `${m}.py`)]);
  // Only what is importable by that name: a top-level entry of a site directory.
  const installed = new Set<string>();
  for (const files of environment.byDigest.values()) {
    for (const { path } of files) {
      const match = /^(.*\/(?:dist|site)-packages)\/([^/]+)(\/|$)/.exec(path);
      if (match && names.has(match[2]!) && (match[3] === '/' ? path.endsWith('.py') : true)) installed.add(`${match[1]}/${match[2]}`);
    }
  }
  const [copy, ...more] = [...installed].sort();
  if (copy === undefined) return null;
  return `the environment image ${environment.image} holds a copy of the repository's own code at ${copy}${more.length ? ` and ${more.length} more place(s)` : ''}`;
}
