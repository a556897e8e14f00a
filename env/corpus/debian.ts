/**
 * The default corpus: pure-Python libraries that Debian packages as python3-*, fetched as
 * .deb files and unpacked into a corpus directory, never installed, so the original code is
 * nowhere on a sandbox's Python path. Layout under `dir`:
 *   repos/<name>/   the library's top-level packages as shipped in dist-packages, plus LICENSE
 *   manifest.json   { source, libraries: LibraryEntry[] } with each root relative to `dir`
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface LibrarySpec {
  name: string;
  package: string;
  /**
   * What its shipped tests need from pip (a Debian package has no pyproject.toml to read it
   * from): installed in the library's environment, never the library itself.
   */
  requires?: readonly string[];
  /**
   * pytest's arguments for the traced run (paths relative to its root, `-k`, `-m`, `--ignore`)
   * when the whole suite is too slow or partly needs what the sandbox cannot have.
   */
  tests?: readonly string[];
  /** Instances per family from it, where not the corpus's own caps (what its test runs cost). */
  max?: Partial<Record<'func_localize' | 'dep_search' | 'issue_localize' | 'func_gen', number>>;
}

/** The executed families' caps of the libraries added last (their test runs at setup cost time). */
const EXECUTED_CAP = { issue_localize: 50, func_gen: 50 } as const;

/** Architecture "all" packages in bookworm: ones with C extensions (markupsafe, yaml) would
 *  bring .so files built for the host. networkx and toolz ship their test suites. None may be
 *  a library the sandbox image holds: attrs and more-itertools (pytest's dependencies) and
 *  pyparsing (vendored by pkg_resources) were replaced by parso, tomlkit and pyasn1 for that
 *  reason (docs/sandbox.md), and setup leaves out any library the image holds. */
export const DEFAULT_LIBRARIES: readonly LibrarySpec[] = [
  { name: 'click', package: 'python3-click' },
  { name: 'requests', package: 'python3-requests' },
  { name: 'jinja2', package: 'python3-jinja2' },
  { name: 'parso', package: 'python3-parso' },
  { name: 'dateutil', package: 'python3-dateutil' },
  { name: 'tomlkit', package: 'python3-tomlkit' },
  { name: 'markdown', package: 'python3-markdown' },
  { name: 'boltons', package: 'python3-boltons' },
  { name: 'toolz', package: 'python3-toolz' },
  { name: 'networkx', package: 'python3-networkx' },
  { name: 'pyasn1', package: 'python3-pyasn1' },
  { name: 'idna', package: 'python3-idna' },
  { name: 'urllib3', package: 'python3-urllib3' },
  { name: 'six', package: 'python3-six' },
  { name: 'sortedcontainers', package: 'python3-sortedcontainers' },
  // These ship their test suites too. sympy's whole suite takes hours: a few of its packages,
  // its slow tests left out; ecdsa's and icalendar's tests need packages from pip. Their
  // executed families are capped lower: every instance costs test runs at setup.
  { name: 'mpmath', package: 'python3-mpmath', max: EXECUTED_CAP },
  {
    name: 'sympy',
    package: 'python3-sympy',
    requires: ['mpmath'],
    tests: ['sympy/logic/tests', 'sympy/sets/tests', 'sympy/strategies/tests', 'sympy/unify/tests', '-m', 'not slow'],
    max: EXECUTED_CAP,
  },
  { name: 'pyflakes', package: 'python3-pyflakes', tests: ['pyflakes', '-k', 'not IntegrationTests'], max: EXECUTED_CAP },
  { name: 'bs4', package: 'python3-bs4', max: EXECUTED_CAP },
  { name: 'h11', package: 'python3-h11', max: EXECUTED_CAP },
  { name: 'ecdsa', package: 'python3-ecdsa', requires: ['six', 'hypothesis'], max: EXECUTED_CAP },
  { name: 'icalendar', package: 'python3-icalendar', requires: ['pytz', 'python-dateutil'], tests: ['icalendar', '--ignore=icalendar/tests/hypothesis'], max: EXECUTED_CAP },
];

export interface LibraryEntry {
  name: string;
  package: string;
  version: string;
  license: string;
  /** Absolute in returned entries; relative to the corpus dir in manifest.json. */
  root: string;
  /** Number of .py files and their total size in bytes. */
  files: number;
  bytes: number;
}

export interface FetchOptions {
  dir: string;
  libraries?: readonly LibrarySpec[];
  onProgress?: (done: number, total: number, name: string) => void;
}

const DIST_PACKAGES = 'usr/lib/python3/dist-packages';
const EXCLUDED = /(\.dist-info|\.egg-info|__pycache__|\.pyc)$/;
const DOWNLOAD_TIMEOUT_MS = 300_000;
const UPDATE_TIMEOUT_MS = 300_000;
const DPKG_TIMEOUT_MS = 60_000;
// Debian policy's package-name syntax; it also keeps a name from being read as an apt option.
const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+$/;
const LIBRARY_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

// Pre-DEP-5 files (jinja2's) paste the licence text under a bare "License:"; recognise the usual ones.
const LICENSE_TEXTS: readonly [RegExp, string][] = [
  [/endorse or promote products/i, 'BSD-3-clause'],
  [/Redistribution and use in source and binary forms/i, 'BSD-2-clause'],
  [/Permission is hereby granted, free of charge/i, 'Expat'],
  [/Apache License,? Version 2\.0/i, 'Apache-2.0'],
];

/** The short licence name of a Debian copyright file: that of the `Files: *` paragraph, else the first `License:` given. */
export function parseDebianLicense(text: string): string {
  const field = (paragraph: string, name: string) =>
    new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(paragraph)?.[1]?.trim();
  const paragraphs = text.replace(/\r\n?/g, '\n').split(/\n[ \t]*\n/);
  const whole = paragraphs.find((p) => field(p, 'Files')?.split(/\s+/).includes('*'));
  const named = (whole && field(whole, 'License')) || /^License:[ \t]*(\S.*)$/im.exec(text)?.[1]?.trim();
  const flat = text.replace(/\s+/g, ' ');
  return named || LICENSE_TEXTS.find(([pattern]) => pattern.test(flat))?.[1] || 'unknown';
}

async function run(what: string, cmd: string, args: string[], cwd: string, timeout: number): Promise<string> {
  try {
    // LC_ALL=C: the retry below recognises apt's English messages.
    const env = { ...process.env, LC_ALL: 'C' };
    return (await execFileAsync(cmd, args, { cwd, timeout, env, maxBuffer: 16 * 2 ** 20 })).stdout;
  } catch (err) {
    const e = err as { killed?: boolean; stderr?: string; message: string };
    const why = e.killed ? `timed out after ${timeout / 1000} s` : e.stderr?.trim() || e.message;
    throw new Error(`${what}: \`${cmd} ${args.join(' ')}\` failed: ${why}`, { cause: err });
  }
}

/** One apt-get call for all packages: each call re-reads the package lists, ~0.6 s on images that disable apt's cache. */
async function download(packages: string[], cwd: string): Promise<Map<string, string>> {
  const what = packages.join(', ');
  const args = ['download', ...packages];
  try {
    await run(what, 'apt-get', args, cwd, DOWNLOAD_TIMEOUT_MS);
  } catch (err) {
    // Container images ship without package lists (or with stale ones): refresh them, retry once.
    if (!/Unable to locate package|no installation candidate|Failed to fetch/.test((err as Error).message)) throw err;
    await run(what, 'apt-get', ['update'], cwd, UPDATE_TIMEOUT_MS);
    await run(what, 'apt-get', args, cwd, DOWNLOAD_TIMEOUT_MS);
  }
  const files = await readdir(cwd);
  return new Map(packages.map((pkg) => {
    const deb = files.find((file) => file.startsWith(`${pkg}_`) && file.endsWith('.deb'));
    if (deb === undefined) throw new Error(`${pkg}: apt-get download left no .deb in ${cwd}`);
    return [pkg, join(cwd, deb)];
  }));
}

async function pythonSource(root: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  for (const path of await readdir(root, { recursive: true })) {
    if (!path.endsWith('.py')) continue;
    const info = await stat(join(root, path));
    if (info.isFile()) [files, bytes] = [files + 1, bytes + info.size];
  }
  return { files, bytes };
}

async function unpack(spec: LibrarySpec, deb: string, repos: string): Promise<LibraryEntry> {
  const pkg = spec.package;
  const work = dirname(deb);
  const version = (await run(pkg, 'dpkg-deb', ['-f', deb, 'Version'], work, DPKG_TIMEOUT_MS)).trim();
  const tree = `${deb}.tree`;
  await run(pkg, 'dpkg-deb', ['-x', deb, tree], work, DPKG_TIMEOUT_MS);
  const site = join(tree, DIST_PACKAGES);
  const top = (await readdir(site).catch(() => [])).filter((entry) => !EXCLUDED.test(entry));
  if (top.length === 0) throw new Error(`${pkg}: no Python code under /${DIST_PACKAGES} (not a pure-Python python3-* package?)`);

  const root = join(repos, spec.name);
  const staging = join(repos, `.${spec.name}.partial`);
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  for (const entry of top) {
    await cp(join(site, entry), join(staging, entry), { recursive: true, filter: (src) => !EXCLUDED.test(src) });
  }
  const copyright = await readFile(join(tree, 'usr/share/doc', pkg, 'copyright'), 'utf8').catch(() => undefined);
  if (copyright !== undefined) await writeFile(join(staging, 'LICENSE'), copyright);
  // Swap the repository in whole: a run killed midway must not leave a half-copied root that
  // a later run would take for complete.
  await rm(root, { recursive: true, force: true });
  await rename(staging, root);
  await rm(tree, { recursive: true, force: true });
  const license = copyright === undefined ? 'unknown' : parseDebianLicense(copyright);
  return { name: spec.name, package: pkg, version, license, root, ...(await pythonSource(root)) };
}

async function readManifest(dir: string): Promise<LibraryEntry[]> {
  const text = await readFile(join(dir, 'manifest.json'), 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (text === undefined) return [];
  const manifest = JSON.parse(text) as { libraries?: LibraryEntry[] };
  return (manifest.libraries ?? []).map((entry) => ({ ...entry, root: resolve(dir, entry.root) }));
}

async function writeManifest(dir: string, libraries: readonly LibraryEntry[]): Promise<void> {
  const osRelease = await readFile('/etc/os-release', 'utf8').catch(() => '');
  const codename = /^VERSION_CODENAME=(\S+)$/m.exec(osRelease)?.[1];
  const source = codename ? `debian ${codename}` : 'debian';
  const stored = libraries.map((entry) => ({ ...entry, root: relative(dir, entry.root) }));
  const tmp = join(dir, `.manifest.json.${process.pid}`);
  await writeFile(tmp, `${JSON.stringify({ source, libraries: stored }, null, 2)}\n`);
  await rename(tmp, join(dir, 'manifest.json'));
}

const isDirectory = (path: string) => stat(path).then((info) => info.isDirectory(), () => false);

/**
 * Fetch each library unless manifest.json already lists it (same name and package) with its
 * root on disk. Versions stay pinned to what was fetched: checking apt for a newer one costs
 * ~0.6 s per run on images that disable apt's pkgcache, and a corpus that moves under
 * generated instances would change their tasks. Delete a repository to refetch it.
 */
export async function fetchDebianLibraries(options: FetchOptions): Promise<LibraryEntry[]> {
  const dir = resolve(options.dir);
  const libraries = options.libraries ?? DEFAULT_LIBRARIES;
  for (const spec of libraries) {
    if (!LIBRARY_NAME.test(spec.name) || !PACKAGE_NAME.test(spec.package)) {
      throw new Error(`invalid library ${JSON.stringify(spec)}: name must be a plain directory name, package a Debian package name`);
    }
  }
  const repos = join(dir, 'repos');
  await mkdir(repos, { recursive: true });
  // What is on disk, by name; libraries fetched earlier but not asked for now stay listed.
  const listed = new Map<string, LibraryEntry>();
  for (const entry of await readManifest(dir)) {
    if (await isDirectory(entry.root)) listed.set(entry.name, entry);
  }

  const missing = libraries.filter((spec) => listed.get(spec.name)?.package !== spec.package);
  const temp = missing.length > 0 ? await mkdtemp(join(tmpdir(), 'hgym-deb-')) : undefined;
  const entries: LibraryEntry[] = [];
  try {
    const debs = temp === undefined ? new Map<string, string>() : await download([...new Set(missing.map((spec) => spec.package))], temp);
    for (const spec of libraries) {
      let entry = listed.get(spec.name);
      if (entry?.package !== spec.package) {
        const deb = debs.get(spec.package);
        if (deb === undefined) throw new Error(`${spec.package}: not downloaded`);
        entry = await unpack(spec, deb, repos);
        listed.set(spec.name, entry);
        // Record each library as it lands so a failure later in the list does not refetch it.
        await writeManifest(dir, [...listed.values()]);
      }
      entries.push(entry);
      options.onProgress?.(entries.length, libraries.length, spec.name);
    }
  } finally {
    if (temp !== undefined) await rm(temp, { recursive: true, force: true });
  }
  // Also when nothing was fetched: the manifest may be missing or list roots since deleted.
  await writeManifest(dir, [...listed.values()]);
  return entries;
}
