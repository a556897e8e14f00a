/**
 * Repository environments: the packages a repository's tests need, resolved by pip on the
 * host and installed into an image built FROM the sandbox image (docker/environment-image.ts
 * builds it). An environment is named by what it holds: the resolved distributions for the
 * sandbox's Python, so repositories that resolve to the same set share one. Its image is
 * labelled with the sandbox image it was built FROM and built again when that changes (the
 * executor and test runner live in the sandbox image).
 *
 * pip runs on the host with the user's own configuration (pip.conf, PIP_* variables: index
 * URL, extra index URLs, find-links), installing into a folder (`--target`) that the image
 * build copies into the sandbox Python's site directory; the sandbox keeps no network. The
 * repository itself is never installed: detectDependencies leaves it out, and the test
 * runner imports the workspace copy.
 *
 * The sandbox runs its tests with the image's own pytest where it can: pip is held to the
 * image's versions of pytest and the packages it is built from, which are then removed from
 * the install and never shadow the image's copies. Where the repository's test plugins need a
 * newer pytest than the image has (pip finds no resolution held to it), the environment keeps
 * the pytest pip chose, and the runner runs under it.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { detectDependencies, normalizeName, type Dependencies } from './dependencies.js';
import { whyEnvironmentHolds, type ImageFiles } from './image.js';

const run = promisify(execFile);

/** The image's test runner and what it is built from: never replaced by an environment. */
export const HARNESS_DISTRIBUTIONS: ReadonlySet<string> = new Set(['pytest', 'pluggy', 'py', 'iniconfig']);

/** pip gets this long to resolve and download an environment. */
const PIP_TIMEOUT_MS = 15 * 60_000;
/** pip's own words kept in a failure's reason. */
const REASON_CHARS = 600;

export interface Distribution {
  name: string;
  version: string;
}

export interface EnvironmentSpec {
  /** sha256 of the sandbox Python's version and the resolved distributions. */
  id: string;
  /** The image's tag: `hgym/env:<first 16 of id>`. */
  image: string;
  /** The sandbox image it is built FROM, by id. */
  base: string;
  /** What the repository asked for (PEP 508), and the files that said so. */
  requirements: string[];
  sources: string[];
  /** What pip installed, by normalised name, sorted; the harness's own packages left out. */
  resolved: Distribution[];
}

/** Python of the sandbox image, as pip needs to know it to pick wheels. */
export interface TargetPython {
  /** `3.11` */
  version: string;
  /** The sandbox Python's site directory the packages are copied into. */
  siteDir: string;
  /**
   * Versions of the harness's own distributions in the image (pytest, pluggy, ...): pip is held
   * to them, so that the pytest plugins it picks work with the image's pytest.
   */
  harness?: Record<string, string>;
}

/** Why an environment could not be made, in pip's own words where pip was the cause. */
export class EnvironmentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnvironmentError';
  }
}

export function pins(resolved: readonly Distribution[]): string[] {
  return [...resolved].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((d) => `${d.name}==${d.version}`);
}

export function environmentId(python: string, resolved: readonly Distribution[]): string {
  return createHash('sha256').update(`python ${python}\n${pins(resolved).join('\n')}\n`).digest('hex');
}

export function environmentImage(id: string): string {
  return `hgym/env:${id.slice(0, 16)}`;
}

/** The environment images the instances run in, each once: what a server makes present on every engine. */
export function environmentImages(instances: Iterable<{ repo: { environment?: string } }>): string[] {
  return [...new Set([...instances].flatMap((i) => (i.repo.environment ? [environmentImage(i.repo.environment)] : [])))];
}

/** Each environment image's share of the instances (the rest run in the sandbox image): how a pool splits its warm sandboxes. */
export function environmentShares(instances: Iterable<{ repo: { environment?: string } }>): Record<string, number> {
  const counts: Record<string, number> = {};
  let total = 0;
  for (const i of instances) {
    total++;
    if (i.repo.environment) counts[environmentImage(i.repo.environment)] = (counts[environmentImage(i.repo.environment)] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(counts).map(([image, n]) => [image, n / total]));
}

/** What a pool is asked for to run a repository's code: its environment's image, if it has one. */
export function imageOf(repo: { environment?: string }): { image?: string } {
  return repo.environment ? { image: environmentImage(repo.environment) } : {};
}

/** The host's Python for pip: HGYM_PYTHON, else python3 on PATH. */
export function hostPython(env: NodeJS.ProcessEnv = process.env): string {
  return env.HGYM_PYTHON ?? 'python3';
}

/** The last lines of pip's error output that say what went wrong. */
export function pipReason(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== '' && !/^\s*(WARNING: Retrying|\[notice\])/.test(l));
  const errors = lines.filter((l) => /^ERROR:|error:/i.test(l));
  const text = (errors.length > 0 ? errors : lines.slice(-4)).join(' ').replace(/\s+/g, ' ').trim();
  return text.length > REASON_CHARS ? `${text.slice(0, REASON_CHARS)}…` : text || 'pip failed without saying why';
}

interface PipReport {
  install?: { metadata?: { name?: string; version?: string } }[];
}

/** The distributions a pip `--report` file says were installed. */
export function reportedDistributions(report: PipReport): Distribution[] {
  const out = new Map<string, Distribution>();
  for (const item of report.install ?? []) {
    const name = item.metadata?.name;
    const version = item.metadata?.version;
    if (name && version) out.set(normalizeName(name), { name: normalizeName(name), version });
  }
  return [...out.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** pip's options for the sandbox's Python when the host's differs: wheels for that version only. */
async function crossOptions(python: string, target: TargetPython): Promise<string[]> {
  const { stdout } = await run(python, ['-c', 'import sys, platform; print("%d.%d" % sys.version_info[:2]); print(platform.machine())']).catch((error: Error & { code?: string }) => {
    throw new EnvironmentError(error.code === 'ENOENT' ? `no Python to run pip with (${python}); set HGYM_PYTHON` : `${python}: ${error.message}`);
  });
  const [version, machine] = stdout.trim().split('\n');
  if (version === target.version) return [];
  const platforms = [`manylinux_2_36_${machine}`, `manylinux2014_${machine}`, `manylinux_2_17_${machine}`, `linux_${machine}`];
  // Byte code compiled by another Python version is of no use to the sandbox's.
  return ['--no-compile', '--python-version', target.version, '--implementation', 'cp', '--only-binary=:all:', ...platforms.flatMap((p) => ['--platform', p])];
}

/** Removes one installed distribution from a `--target` folder, by its RECORD. */
async function uninstall(site: string, name: string): Promise<void> {
  for (const entry of await readdir(site)) {
    const match = /^(.+?)-[^-]+\.dist-info$/.exec(entry);
    if (!match || normalizeName(match[1]!) !== name) continue;
    const record = join(site, entry, 'RECORD');
    const files = existsSync(record) ? (await readFile(record, 'utf8')).split('\n').map((l) => l.split(',')[0]!).filter(Boolean) : [];
    const dirs = new Set<string>();
    for (const file of files) {
      // RECORD paths are relative to the site folder; anything else is not the install's.
      if (file.startsWith('/') || file.split('/').includes('..')) continue;
      await rm(join(site, file), { force: true, recursive: true });
      for (let d = dirname(file); d !== '.'; d = dirname(d)) dirs.add(d);
    }
    await rm(join(site, entry), { recursive: true, force: true });
    // Folders the install leaves empty go too (with byte code pip compiled): an empty `pytest/`
    // ahead of the image's would be a namespace package of that name.
    for (const d of [...dirs].sort((a, b) => b.length - a.length)) {
      const path = join(site, d);
      const left = await readdir(path).catch(() => null);
      if (left === null) continue;
      if (left.every((name) => name === '__pycache__')) await rm(path, { recursive: true, force: true });
    }
  }
}

export interface ResolveOptions {
  /** The sandbox image's id (what the environment is built FROM). */
  base: string;
  target: TargetPython;
  /** Where pip installs: `<workDir>/site`; emptied first. */
  workDir: string;
  python?: string;
  env?: NodeJS.ProcessEnv;
  /** Install exactly these requirements (pins of a recorded environment), no dependencies. */
  noDeps?: boolean;
}

/**
 * Resolves and downloads a repository's test requirements with pip into `<workDir>/site`.
 * Null when the repository needs nothing beyond what the sandbox image has.
 */
export async function resolveEnvironment(dependencies: Dependencies, options: ResolveOptions): Promise<EnvironmentSpec | null> {
  // Pins of a recorded environment are installed as they are, the harness's too if it had them.
  const pinned = options.noDeps === true;
  const wanted = pinned ? dependencies.requirements : dependencies.requirements.filter((r) => !HARNESS_DISTRIBUTIONS.has(requirementName(r)));
  if (wanted.length === 0) return null;
  const python = options.python ?? hostPython(options.env);
  const site = join(options.workDir, 'site');
  const reportPath = join(options.workDir, 'pip-report.json');
  await rm(options.workDir, { recursive: true, force: true });
  await mkdir(options.workDir, { recursive: true });
  await writeFile(join(options.workDir, 'requirements.txt'), `${wanted.join('\n')}\n`);
  const held = pinned ? [] : Object.entries(options.target.harness ?? {}).map(([name, version]) => `${name}==${version}`);
  await writeFile(join(options.workDir, 'constraints.txt'), held.map((l) => `${l}\n`).join(''));
  const pip = async (constrained: boolean): Promise<void> => {
    await rm(site, { recursive: true, force: true });
    const args = [
      '-m', 'pip', 'install', '--target', site, '--report', reportPath,
      '--disable-pip-version-check', '--no-input', '--no-warn-script-location', '--quiet',
      ...(pinned ? ['--no-deps'] : []),
      ...(await crossOptions(python, options.target)),
      '-r', join(options.workDir, 'requirements.txt'),
      ...(constrained ? ['-c', join(options.workDir, 'constraints.txt')] : []),
    ];
    await run(python, args, { env: options.env ?? process.env, timeout: PIP_TIMEOUT_MS, maxBuffer: 16 * 2 ** 20 });
  };
  // The image's pytest first; when the repository's test plugins need a newer one than the
  // image has, the environment brings its own (the runner works with either).
  let keepHarness = pinned;
  try {
    try {
      await pip(held.length > 0);
    } catch (error) {
      if (held.length === 0 || !/ResolutionImpossible|conflicting dependencies/.test((error as { stderr?: string }).stderr ?? '')) throw error;
      keepHarness = true;
      await pip(false);
    }
  } catch (error) {
    const e = error as { stderr?: string; code?: string | number; killed?: boolean; message: string };
    if (e.code === 'ENOENT') throw new EnvironmentError(`no Python to run pip with (${python}); set HGYM_PYTHON`);
    if (e.killed) throw new EnvironmentError(`pip did not finish within ${PIP_TIMEOUT_MS / 60_000} minutes`);
    throw new EnvironmentError(`pip install ${wanted.join(' ')}: ${pipReason(e.stderr ?? e.message)}`);
  }
  const installed = reportedDistributions(JSON.parse(await readFile(reportPath, 'utf8')) as PipReport);
  if (!keepHarness) for (const d of installed) if (HARNESS_DISTRIBUTIONS.has(d.name)) await uninstall(site, d.name);
  // Scripts are for a shell's PATH; the tests import packages.
  await rm(join(site, 'bin'), { recursive: true, force: true });
  const resolved = keepHarness ? installed : installed.filter((d) => !HARNESS_DISTRIBUTIONS.has(d.name));
  if (resolved.length === 0) return null;
  const id = environmentId(options.target.version, resolved);
  return { id, image: environmentImage(id), base: options.base, requirements: dependencies.requirements, sources: dependencies.sources, resolved };
}

function requirementName(requirement: string): string {
  return normalizeName(/^[A-Za-z0-9._-]+/.exec(requirement)?.[0] ?? '');
}

/** Builds (or finds) an environment's image from pip's `--target` folder. */
export type ImageBuilder = (spec: EnvironmentSpec, site: string, target: TargetPython) => Promise<{ size: number; built: boolean; ms: number }>;

export interface EnvironmentRecord extends EnvironmentSpec {
  /** Bytes of the image; how long its build took (0 when it already existed). */
  size: number;
  buildMs: number;
  resolveMs: number;
}

/** An environment made for a repository, or why none could be (the repository needs one). */
export type EnvironmentOutcome = { environment: EnvironmentRecord | null } | { error: string };

/** What making environments takes, on one engine: the sandbox image's id and Python, a builder, a file lister. */
export interface EnvironmentTools {
  base: string;
  target: TargetPython;
  build: ImageBuilder;
  /** The files of a built environment's image (checked against the repository's). */
  list: (image: string) => Promise<ImageFiles>;
}

export interface PrepareOptions {
  base: string;
  target: TargetPython;
  /** Working folders for pip, one per requirement set. */
  workRoot: string;
  build: ImageBuilder;
  python?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Detects (or is given), resolves and builds a repository's environment; failures are
 * reasons, not throws.
 */
export async function prepareEnvironment(root: string, options: PrepareOptions, given?: Dependencies): Promise<EnvironmentOutcome> {
  const dependencies = given ?? (await detectDependencies(root));
  if (dependencies.requirements.length === 0) return { environment: null };
  const key = createHash('sha256').update(`${options.base}\n${dependencies.requirements.join('\n')}`).digest('hex').slice(0, 24);
  const workDir = join(options.workRoot, key);
  const started = performance.now();
  try {
    const spec = await resolveEnvironment(dependencies, { base: options.base, target: options.target, workDir, ...(options.python ? { python: options.python } : {}), ...(options.env ? { env: options.env } : {}) });
    if (!spec) return { environment: null };
    const resolveMs = Math.round(performance.now() - started);
    const built = await options.build(spec, join(workDir, 'site'), options.target);
    return { environment: { ...spec, size: built.size, buildMs: Math.round(built.ms), resolveMs } };
  } catch (error) {
    if (error instanceof EnvironmentError) return { error: error.message };
    throw error;
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

/**
 * Makes sure a recorded environment's image exists and is built FROM the current sandbox
 * image, installing its pins again (no resolution) when it must be rebuilt.
 */
export async function ensureEnvironment(record: EnvironmentSpec, options: Omit<PrepareOptions, 'build'> & { build: ImageBuilder; exists: (spec: EnvironmentSpec) => Promise<boolean> }): Promise<void> {
  const spec = { ...record, base: options.base };
  if (await options.exists(spec)) return;
  const workDir = join(options.workRoot, `rebuild-${record.id.slice(0, 24)}`);
  try {
    const again = await resolveEnvironment(
      { requirements: pins(record.resolved), sources: record.sources, skipped: [] },
      { base: options.base, target: options.target, workDir, noDeps: true, ...(options.python ? { python: options.python } : {}), ...(options.env ? { env: options.env } : {}) },
    );
    if (again?.id !== record.id) throw new EnvironmentError(`installing the pins of environment ${record.id.slice(0, 16)} again gave another set`);
    await options.build(spec, join(workDir, 'site'), options.target);
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

/** Where a corpus keeps its environments' records: `environments/<id>.json`. */
export function environmentRecordPath(corpusDir: string, id: string): string {
  return join(corpusDir, 'environments', `${id}.json`);
}

export async function writeEnvironmentRecord(corpusDir: string, record: EnvironmentRecord): Promise<void> {
  const path = environmentRecordPath(corpusDir, record.id);
  await mkdir(join(corpusDir, 'environments'), { recursive: true });
  await writeFile(`${path}.part`, `${JSON.stringify(record, null, 2)}\n`);
  await rename(`${path}.part`, path);
}

export async function readEnvironmentRecord(corpusDir: string, id: string): Promise<EnvironmentRecord> {
  return JSON.parse(await readFile(environmentRecordPath(corpusDir, id), 'utf8')) as EnvironmentRecord;
}

/**
 * A repository's environment, checked to hold none of its code (whyEnvironmentHolds);
 * undefined when it needs none, or why it could not be made.
 */
export async function environmentFor(
  root: string,
  tools: EnvironmentTools,
  workRoot: string,
  given?: Dependencies,
): Promise<{ record: EnvironmentRecord } | { error: string } | undefined> {
  const outcome = await prepareEnvironment(root, { base: tools.base, target: tools.target, build: tools.build, workRoot }, given);
  if ('error' in outcome) return outcome;
  const record = outcome.environment;
  if (!record) return undefined;
  const leak = await whyEnvironmentHolds(root, await tools.list(record.image));
  return leak ? { error: leak } : { record };
}
