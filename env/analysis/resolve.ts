/**
 * Resolves names to what they denote inside the repository: local and nested functions,
 * module-level names, absolute imports through the repository's import roots, relative
 * imports, aliases, re-exports through `__init__` (star imports included), module
 * attributes, and class members including inherited ones. What a call made of these
 * reaches is decided in calls.ts.
 */
import { callReport, classifyCall, type CallReport } from './calls.js';
import { importRoots } from './roots.js';
import type { CallSite, Definition, ImportBinding, ModuleAnalysis } from './types.js';

/** What an expression denotes, as far as static analysis can tell. */
export type Entity =
  /** A module or package of the repository, by its name from the repository root. */
  | { kind: 'module'; module: string }
  | { kind: 'def'; def: Definition }
  /** Outside the repository: the standard library, a third-party package, a built-in. */
  | { kind: 'external' }
  /** A value the analysis does not follow: a variable, a parameter, an attribute of one. */
  | { kind: 'unknown' };

export const EXTERNAL: Entity = { kind: 'external' };
export const UNKNOWN: Entity = { kind: 'unknown' };

/** Re-export chains and base-class walks longer than this are cut (cycles, pathological code). */
const MAX_DEPTH = 16;

interface ModuleIndex {
  analysis: ModuleAnalysis;
  byQualname: Map<string, Definition>;
  children: Map<string | null, Map<string, Definition>>;
  imports: Map<string, ImportBinding[]>;
  stars: ImportBinding[];
  assigned: Set<string>;
}

export function defKey(def: Pick<Definition, 'module' | 'qualname'>): string {
  return `${def.module}:${def.qualname}`;
}

function entityKey(e: Entity): string {
  return e.kind === 'def' ? defKey(e.def) : e.kind === 'module' ? `module:${e.module}` : e.kind;
}

/** `src/pkg` → `src.pkg`: an import root as a prefix of module names from the repository root. */
function dotted(dir: string): string {
  return dir.split('/').filter(Boolean).join('.');
}

export class RepoIndex {
  private readonly modules = new Map<string, ModuleIndex>();
  /** Every package a module sits in, `__init__.py` or not (namespace packages). */
  private readonly packages = new Set<string>();
  /** Packages with an `__init__.py`. */
  private readonly regular = new Set<string>();
  private readonly roots: string[];
  /** Every name any definition of the repository has. */
  readonly definedNames = new Set<string>();

  /**
   * `roots` are the import roots (directories from the repository root, '' for the root);
   * by default those the files themselves show (see roots.ts).
   */
  constructor(analyses: readonly ModuleAnalysis[], roots: readonly string[] = importRoots(analyses.map((a) => a.file))) {
    for (const analysis of analyses) {
      const byQualname = new Map<string, Definition>();
      const children = new Map<string | null, Map<string, Definition>>();
      for (const def of analysis.definitions) {
        byQualname.set(def.qualname, def);
        this.definedNames.add(def.name);
        let siblings = children.get(def.parent);
        if (!siblings) children.set(def.parent, (siblings = new Map()));
        // The last definition of a name wins, as at run time.
        siblings.set(def.name, def);
      }
      const imports = new Map<string, ImportBinding[]>();
      for (const b of analysis.imports) if (b.kind !== 'star') imports.set(b.local, [...(imports.get(b.local) ?? []), b]);
      const stars = analysis.imports.filter((b) => b.kind === 'star');
      this.modules.set(analysis.module, { analysis, byQualname, children, imports, stars, assigned: new Set(analysis.assigned) });
      if (analysis.isPackage) this.regular.add(analysis.module);
      const parts = analysis.module.split('.');
      for (let i = 1; i < parts.length; i++) this.packages.add(parts.slice(0, i).join('.'));
    }
    this.roots = roots.map(dotted);
  }

  get moduleNames(): string[] {
    return [...this.modules.keys()];
  }

  definition(module: string, qualname: string): Definition | undefined {
    return this.modules.get(module)?.byQualname.get(qualname);
  }

  /** The repository definition a call inside `def` reaches, or null (outside, or not known). */
  resolveCall(def: Definition, call: CallSite): Definition | null {
    const outcome = classifyCall(this, def, call);
    return outcome.kind === 'repo' ? outcome.def : null;
  }

  /** What `def` calls directly inside the repository (see callReport). */
  dependencies(def: Definition): Definition[] {
    return callReport(this, def).dependencies;
  }

  /** Every call of `def` and what it nests, each resolved, outside, or uncertain. */
  report(def: Definition): CallReport {
    return callReport(this, def);
  }

  /** Definitions nested anywhere inside `def`. */
  descendants(def: Definition): Definition[] {
    const mod = this.modules.get(def.module);
    if (!mod) return [];
    const prefix = `${def.qualname}.`;
    return mod.analysis.definitions.filter((d) => d.qualname.startsWith(prefix));
  }

  /** The definition `def` sits in, if any. */
  parentOf(def: Definition): Definition | null {
    return def.parent ? (this.definition(def.module, def.parent) ?? null) : null;
  }

  /** A name as seen from inside `from`: enclosing function scopes, then the module. */
  resolveName(module: string, name: string, from: Definition | null, depth = 0): Entity {
    const mod = this.modules.get(module);
    if (!mod) return UNKNOWN;
    for (let scope = from; scope; scope = this.parentOf(scope)) {
      // Class bodies are not enclosing scopes for the functions inside them.
      if (scope.kind === 'class') continue;
      const local = mod.children.get(scope.qualname)?.get(name);
      if (local) return { kind: 'def', def: local };
      // A parameter or variable of the function hides the module's name.
      if (scope.locals.includes(name)) return UNKNOWN;
    }
    // Bound nowhere in the module: a built-in, or a NameError; neither is the repository's.
    return this.member(module, name, depth) ?? EXTERNAL;
  }

  /** A dotted path (`a.b.c`) as seen from inside `from`. */
  path(module: string, path: string, from: Definition | null, depth = 0): Entity {
    const [head, ...rest] = path.split('.');
    let entity = this.resolveName(module, head!, from, depth);
    for (const attr of rest) entity = this.attribute(entity, attr, depth);
    return entity;
  }

  attribute(entity: Entity, name: string, depth = 0): Entity {
    if (entity.kind === 'module') return this.member(entity.module, name, depth) ?? UNKNOWN;
    if (entity.kind !== 'def') return entity;
    if (entity.def.kind !== 'class') return UNKNOWN;
    const found = this.lookupInClass(entity.def, name);
    return found ? { kind: 'def', def: found } : UNKNOWN;
  }

  /**
   * `name` as an attribute of module `module`: a definition, an import, a variable, a
   * submodule, or a name a star import brings; null when the module binds no such name.
   */
  member(module: string, name: string, depth: number): Entity | null {
    if (depth > MAX_DEPTH) return UNKNOWN;
    const mod = this.modules.get(module);
    if (mod) {
      const def = mod.children.get(null)?.get(name);
      if (def) return { kind: 'def', def };
      // `from . import name` in a package's __init__ binds its own submodule: not a re-export.
      const bindings = (mod.imports.get(name) ?? []).filter((b) => !(b.kind === 'from' && this.fromModule(b, module) === module && b.name === name));
      if (bindings.length && mod.assigned.has(name)) return UNKNOWN;
      if (bindings.length) {
        // Alternatives (`try: from a import f` / `except ImportError: from b import f`) must agree.
        const found = bindings.map((b) => this.binding(b, module, depth + 1));
        return found.every((e) => entityKey(e) === entityKey(found[0]!)) ? found[0]! : UNKNOWN;
      }
      if (mod.assigned.has(name)) return UNKNOWN;
    }
    const sub = `${module}.${name}`;
    if (this.isModule(sub)) return { kind: 'module', module: sub };
    return mod && !name.startsWith('_') ? this.starMember(mod, name, depth) : null;
  }

  private starMember(mod: ModuleIndex, name: string, depth: number): Entity | null {
    let outside: Entity | null = null;
    for (const star of mod.stars) {
      const from = this.importedModule(star, mod.analysis.module);
      if (from.kind !== 'module') {
        outside ??= from;
        continue;
      }
      const found = this.member(from.module, name, depth + 1);
      if (found) return found;
    }
    return outside;
  }

  private isModule(name: string): boolean {
    return this.modules.has(name) || this.packages.has(name);
  }

  /** The first directory up from `module`'s file that is not a package: `sys.path[0]` for a script. */
  private baseDir(module: string): string {
    const parts = module.split('.');
    if (!this.regular.has(module)) parts.pop();
    while (parts.length && this.regular.has(parts.join('.'))) parts.pop();
    return parts.join('.');
  }

  /**
   * An absolute module name imported by `importer`: the first import root that holds its
   * top-level name owns it, as on `sys.path`; no root holds it, it is not the repository's.
   */
  private absolute(name: string, importer: string): Entity {
    const head = name.split('.')[0]!;
    for (const root of [this.baseDir(importer), ...this.roots]) {
      const at = (n: string) => (root ? `${root}.${n}` : n);
      if (this.isModule(at(head))) return this.isModule(at(name)) ? { kind: 'module', module: at(name) } : UNKNOWN;
    }
    return EXTERNAL;
  }

  /** The module an import statement names (`import a.b`, or the `from` of the others). */
  private importedModule(b: ImportBinding, importer: string): Entity {
    const name = b.kind === 'module' ? b.target : b.from!;
    if (!b.relative) return this.absolute(name, importer);
    return this.isModule(name) ? { kind: 'module', module: name } : UNKNOWN;
  }

  private fromModule(b: ImportBinding, importer: string): string | null {
    const from = this.importedModule(b, importer);
    return from.kind === 'module' ? from.module : null;
  }

  private binding(b: ImportBinding, importer: string, depth: number): Entity {
    const from = this.importedModule(b, importer);
    if (b.kind === 'module' || from.kind !== 'module') return from;
    return this.member(from.module, b.name!, depth) ?? UNKNOWN;
  }

  /** A method (or nested class) of `cls` or, depth first through its bases, of an ancestor. */
  lookupInClass(cls: Definition, name: string, depth = 0, seen = new Set<string>()): Definition | null {
    if (depth > MAX_DEPTH || seen.has(defKey(cls))) return null;
    seen.add(defKey(cls));
    const own = this.ownMember(cls, name);
    if (own) return own;
    for (const base of this.bases(cls, depth)) {
      if (base.kind !== 'def' || base.def.kind !== 'class') continue;
      const found = this.lookupInClass(base.def, name, depth + 1, seen);
      if (found) return found;
    }
    return null;
  }

  /** A member `cls` defines itself, not inherited. */
  ownMember(cls: Definition, name: string): Definition | null {
    return this.modules.get(cls.module)?.children.get(cls.qualname)?.get(name) ?? null;
  }

  /** What each base class expression of `cls` denotes (`Generic[T]` as `Generic`). */
  bases(cls: Definition, depth = 0): Entity[] {
    const parent = this.parentOf(cls);
    return cls.bases.map((base) => {
      const path = base.replace(/\s*\[[\s\S]*\]$/, '').replace(/\s+/g, '');
      return /^[\p{L}_][\p{L}\p{N}_.]*$/u.test(path) ? this.path(cls.module, path, parent, depth + 1) : UNKNOWN;
    });
  }

  /**
   * Whether `cls` takes part in multiple inheritance: it, or a class of the repository
   * derived from it, has more than one base besides `object`. Then what follows `cls` in
   * the method resolution order depends on the instance's class.
   */
  inMultipleInheritance(cls: Definition): boolean {
    this.mixed ??= this.mixedClasses();
    return this.mixed.has(defKey(cls));
  }

  private mixed: Set<string> | null = null;

  private mixedClasses(): Set<string> {
    const mixed = new Set<string>();
    const classes = [...this.modules.values()].flatMap((m) => m.analysis.definitions.filter((d) => d.kind === 'class'));
    for (const cls of classes) {
      if (cls.bases.filter((b) => b !== 'object').length < 2) continue;
      // The class and everything above it are linearised together (C3).
      const stack = [cls];
      while (stack.length) {
        const c = stack.pop()!;
        if (mixed.has(defKey(c))) continue;
        mixed.add(defKey(c));
        for (const b of this.bases(c)) if (b.kind === 'def' && b.def.kind === 'class') stack.push(b.def);
      }
    }
    return mixed;
  }
}
