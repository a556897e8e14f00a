/**
 * What a repository's tests need installed, read from the usual places: `pyproject.toml`
 * (project dependencies, test extras, PEP 735 dependency groups, Poetry's main and test
 * groups), `requirements*.txt` (and `requirements/*.txt`), `setup.cfg` (install_requires,
 * tests_require, test extras), `setup.py` (the same arguments of `setup()`, read from its
 * syntax, never run) and `tox.ini` (testenv deps). The result is a list of PEP 508
 * requirement strings for pip; environment markers are left to pip.
 *
 * The repository itself is never a requirement: its own name, `.`, `-e .` and local paths are
 * dropped (its code must exist in a sandbox only as the workspace copy), and `.[test]` or
 * `name[test]` bring in those extras' requirements instead.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { parsePython, type SyntaxNode } from '../analysis/parse.js';

export interface Dependencies {
  /** Requirement strings, one per distribution name (the first found wins), sorted by name. */
  requirements: string[];
  /** The files read, relative to the repository root. */
  sources: string[];
  /** Lines that are not requirements pip can fetch by name (URLs, local paths, options), and why. */
  skipped: { source: string; line: string; why: string }[];
}

/** Extras and groups taken as the tests' own needs. */
const TEST_GROUP = /^(tests?|testing|dev|develop|development|ci|check|all)$/i;
const REQUIREMENT = /^([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(\[[^\]]*\])?\s*(.*)$/s;

/** PEP 503 normalised name. */
export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

/**
 * A configparser-style file: sections of `key = value`, a value continuing on indented lines,
 * `#` and `;` comment lines. (npm's `ini` has no continuation lines, which setup.cfg and
 * tox.ini use for every list.)
 */
export function readConfig(text: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>();
  let section: Map<string, string> | null = null;
  let key: string | null = null;
  for (const raw of text.split(/\r?\n/)) {
    if (/^\s*[#;]/.test(raw) || !raw.trim()) continue;
    const header = /^\[([^\]]+)\]\s*$/.exec(raw);
    if (header) {
      section = new Map();
      sections.set(header[1]!.trim(), section);
      key = null;
    } else if (/^\s/.test(raw) && section && key !== null) {
      section.set(key, `${section.get(key)}\n${raw.trim()}`);
    } else if (section) {
      const m = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(raw);
      if (m) {
        key = m[1]!.trim().toLowerCase();
        section.set(key, m[2]!.trim());
      }
    }
  }
  return sections;
}

class Collector {
  readonly found = new Map<string, string>();
  readonly sources: string[] = [];
  readonly skipped: Dependencies['skipped'] = [];
  /** Extras of the repository itself (`.[test]`) asked for, resolved once all files are read. */
  readonly selfExtras = new Set<string>();

  constructor(readonly selfNames: Set<string>) {}

  add(source: string, line: string): void {
    const text = line.replace(/\s+#.*$/, '').trim();
    if (!text || text.startsWith('#')) return;
    const self = /^(?:-e\s+)?\.(?:\[([^\]]*)\])?$/.exec(text);
    if (self) {
      for (const extra of (self[1] ?? '').split(',')) if (extra.trim()) this.selfExtras.add(extra.trim().toLowerCase());
      return;
    }
    if (text.startsWith('-') || /^(?:\.{0,2}\/|[a-z+]+:\/\/)/i.test(text) || /\s@\s/.test(text) || text.includes('{')) {
      this.skipped.push({ source, line: text, why: 'not a requirement by name (an option, a path, a URL or a substitution)' });
      return;
    }
    const m = REQUIREMENT.exec(text);
    if (!m) {
      this.skipped.push({ source, line: text, why: 'not a requirement pip reads' });
      return;
    }
    const name = normalizeName(m[1]!);
    if (this.selfNames.has(name)) {
      for (const extra of (m[2] ?? '').slice(1, -1).split(',')) if (extra.trim()) this.selfExtras.add(extra.trim().toLowerCase());
      return;
    }
    if (!this.found.has(name)) this.found.set(name, text);
  }
}

/** The requirements of a requirements file, following `-r` includes inside the repository. */
async function readRequirements(root: string, file: string, into: Collector): Promise<void> {
  if (into.sources.includes(file) || !existsSync(join(root, file))) return;
  into.sources.push(file);
  for (const line of (await readFile(join(root, file), 'utf8')).split(/\r?\n/)) {
    const include = /^\s*(?:-r|--requirement)\s*=?\s*(\S+)/.exec(line);
    if (include) {
      const target = relative(root, join(root, dirname(file), include[1]!));
      if (!target.startsWith('..')) await readRequirements(root, target, into);
      continue;
    }
    if (/^\s*(?:-c|--constraint)\b/.test(line)) continue;
    into.add(file, line);
  }
}

type Table = Record<string, unknown>;
const table = (value: unknown): Table => (value && typeof value === 'object' && !Array.isArray(value) ? (value as Table) : {});
const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);

/** A Poetry dependency table as requirement names (Poetry's version syntax is not PEP 440: pip picks the version). */
function poetryNames(deps: unknown): string[] {
  return Object.keys(table(deps)).filter((name) => normalizeName(name) !== 'python');
}

/** PEP 735 groups, with `{include-group = "x"}` followed. */
function groupRequirements(groups: Table, name: string, seen = new Set<string>()): string[] {
  if (seen.has(name)) return [];
  seen.add(name);
  const out: string[] = [];
  for (const item of Array.isArray(groups[name]) ? (groups[name] as unknown[]) : []) {
    if (typeof item === 'string') out.push(item);
    else if (typeof table(item)['include-group'] === 'string') out.push(...groupRequirements(groups, table(item)['include-group'] as string, seen));
  }
  return out;
}

/** The value of a plain string literal (no f-string, no escapes), or null. */
function literal(node: SyntaxNode): string | null {
  if (node.type === 'concatenated_string') {
    const parts = node.namedChildren.map(literal);
    return parts.every((p) => p !== null) ? parts.join('') : null;
  }
  if (node.type !== 'string' || node.descendantsOfType('interpolation').length > 0) return null;
  const m = /^[rRuU]?('''|"""|'|")([\s\S]*)\1$/.exec(node.text);
  return m && !m[2]!.includes('\\') ? m[2]! : null;
}

/** Strings of a list or tuple literal, or of a module-level name bound to one. */
function stringList(node: SyntaxNode | null, names: Map<string, SyntaxNode>, depth = 0): string[] {
  if (!node || depth > 3) return [];
  if (node.type === 'identifier') return stringList(names.get(node.text) ?? null, names, depth + 1);
  if (node.type === 'binary_operator') return [...stringList(node.childForFieldName('left'), names, depth + 1), ...stringList(node.childForFieldName('right'), names, depth + 1)];
  if (node.type !== 'list' && node.type !== 'tuple') return [];
  return node.namedChildren.map(literal).filter((v): v is string => v !== null);
}

/**
 * What a `setup.py` passes to `setup()`: its name, install_requires and tests_require, and
 * extras_require, when written as literals (or names bound to literals at module level).
 * Nothing of it is run.
 */
export function readSetupPy(text: string): { name?: string; requires: string[]; extras: Map<string, string[]> } {
  const out = { requires: [] as string[], extras: new Map<string, string[]>() } as { name?: string; requires: string[]; extras: Map<string, string[]> };
  const parsed = parsePython(text);
  if (!('tree' in parsed)) return out;
  const names = new Map<string, SyntaxNode>();
  for (const statement of parsed.tree.rootNode.namedChildren) {
    const assignment = statement.type === 'expression_statement' ? statement.namedChildren[0] : undefined;
    const left = assignment?.type === 'assignment' ? assignment.childForFieldName('left') : null;
    const right = assignment?.childForFieldName('right');
    if (left?.type === 'identifier' && right) names.set(left.text, right);
  }
  for (const call of parsed.tree.rootNode.descendantsOfType('call')) {
    const fn = call.childForFieldName('function');
    if (!fn || !/(^|\.)setup$/.test(fn.text)) continue;
    for (const arg of call.childForFieldName('arguments')?.namedChildren ?? []) {
      if (arg.type !== 'keyword_argument') continue;
      const key = arg.childForFieldName('name')?.text;
      let value = arg.childForFieldName('value');
      if (value?.type === 'identifier') value = names.get(value.text) ?? value;
      if (!value) continue;
      if (key === 'name') out.name = literal(value) ?? out.name;
      else if (key === 'install_requires' || key === 'tests_require') out.requires.push(...stringList(value, names));
      else if (key === 'extras_require' && value.type === 'dictionary') {
        for (const pair of value.namedChildren) {
          if (pair.type !== 'pair') continue;
          const extra = literal(pair.childForFieldName('key')!);
          if (extra !== null) out.extras.set(extra.toLowerCase(), stringList(pair.childForFieldName('value'), names));
        }
      }
    }
  }
  return out;
}

export async function detectDependencies(root: string): Promise<Dependencies> {
  const selfNames = new Set<string>();
  const extras = new Map<string, string[]>();
  const lists: { source: string; lines: string[] }[] = [];

  if (existsSync(join(root, 'pyproject.toml'))) {
    const doc = parseToml(await readFile(join(root, 'pyproject.toml'), 'utf8')) as Table;
    const project = table(doc.project);
    if (typeof project.name === 'string') selfNames.add(normalizeName(project.name));
    const lines = strings(project.dependencies);
    for (const [extra, reqs] of Object.entries(table(project['optional-dependencies']))) {
      extras.set(extra.toLowerCase(), strings(reqs));
      if (TEST_GROUP.test(extra)) lines.push(...strings(reqs));
    }
    const groups = table(doc['dependency-groups']);
    for (const group of Object.keys(groups)) if (TEST_GROUP.test(group)) lines.push(...groupRequirements(groups, group));
    const poetry = table(table(doc.tool).poetry);
    if (typeof poetry.name === 'string') selfNames.add(normalizeName(poetry.name));
    lines.push(...poetryNames(poetry.dependencies), ...poetryNames(poetry['dev-dependencies']));
    for (const [group, spec] of Object.entries(table(poetry.group))) if (TEST_GROUP.test(group)) lines.push(...poetryNames(table(spec).dependencies));
    lists.push({ source: 'pyproject.toml', lines });
  }

  if (existsSync(join(root, 'setup.cfg'))) {
    const cfg = readConfig(await readFile(join(root, 'setup.cfg'), 'utf8'));
    const name = cfg.get('metadata')?.get('name');
    if (name) selfNames.add(normalizeName(name));
    const options = cfg.get('options');
    const lines = [...(options?.get('install_requires') ?? '').split('\n'), ...(options?.get('tests_require') ?? '').split('\n')];
    for (const [extra, reqs] of cfg.get('options.extras_require') ?? []) {
      extras.set(extra, reqs.split('\n'));
      if (TEST_GROUP.test(extra)) lines.push(...reqs.split('\n'));
    }
    lists.push({ source: 'setup.cfg', lines });
  }

  if (existsSync(join(root, 'setup.py'))) {
    const setup = readSetupPy(await readFile(join(root, 'setup.py'), 'utf8'));
    if (setup.name) selfNames.add(normalizeName(setup.name));
    const lines = [...setup.requires];
    for (const [extra, reqs] of setup.extras) {
      if (!extras.has(extra)) extras.set(extra, reqs);
      if (TEST_GROUP.test(extra)) lines.push(...reqs);
    }
    lists.push({ source: 'setup.py', lines });
  }

  const collector = new Collector(selfNames);
  for (const { source, lines } of lists) {
    collector.sources.push(source);
    for (const line of lines) collector.add(source, line);
  }

  const requirementFiles = (await readdir(root)).filter((f) => /^requirements.*\.(txt|in)$/i.test(f)).sort();
  if (existsSync(join(root, 'requirements'))) {
    for (const f of (await readdir(join(root, 'requirements'))).sort()) if (/\.(txt|in)$/i.test(f)) requirementFiles.push(`requirements/${f}`);
  }
  for (const file of requirementFiles) await readRequirements(root, file, collector);

  if (existsSync(join(root, 'tox.ini'))) {
    collector.sources.push('tox.ini');
    const tox = readConfig(await readFile(join(root, 'tox.ini'), 'utf8'));
    for (const [section, values] of tox) {
      if (section !== 'testenv' && !section.startsWith('testenv:')) continue;
      for (const line of (values.get('deps') ?? '').split('\n')) {
        const include = /^\s*-r\s*(\S+)/.exec(line);
        // tox's {toxinidir} is the repository root.
        if (include) await readRequirements(root, include[1]!.replace(/^\{toxinidir\}\//, ''), collector);
        else collector.add('tox.ini', line);
      }
      for (const extra of (values.get('extras') ?? '').split(/[\n,]/)) if (extra.trim()) collector.selfExtras.add(extra.trim().toLowerCase());
    }
  }

  // The repository's own extras, asked for as `.[test]`, `name[test]` or tox `extras`.
  for (const extra of collector.selfExtras) for (const line of extras.get(extra) ?? []) collector.add(`extra ${extra}`, line);

  const requirements = [...collector.found.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, text]) => text);
  return { requirements, sources: collector.sources, skipped: collector.skipped };
}
