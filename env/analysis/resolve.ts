/**
 * Resolves call sites to the definitions they reach inside the repository: local and
 * nested functions, module-level names, absolute and relative imports (aliases, re-exports
 * through `__init__`), module attributes, `self.`/`cls.`/`super()` methods including
 * inherited ones, and class instantiation. Whatever leads outside the repository (builtins,
 * the standard library, third-party code) or cannot be known statically resolves to null.
 */
import type { CallSite, Definition, ImportBinding, ModuleAnalysis } from './types.js';

type Entity = { kind: 'module'; module: string } | { kind: 'def'; def: Definition };

/** Re-export chains and base-class walks longer than this are cut (cycles, pathological code). */
const MAX_DEPTH = 16;

interface ModuleIndex {
  analysis: ModuleAnalysis;
  byQualname: Map<string, Definition>;
  children: Map<string | null, Map<string, Definition>>;
  imports: Map<string, ImportBinding>;
  assigned: Set<string>;
}

export function defKey(def: Pick<Definition, 'module' | 'qualname'>): string {
  return `${def.module}:${def.qualname}`;
}

export class RepoIndex {
  private readonly modules = new Map<string, ModuleIndex>();
  /** Every package a module sits in, `__init__.py` or not (namespace packages). */
  private readonly packages = new Set<string>();

  constructor(analyses: readonly ModuleAnalysis[]) {
    for (const analysis of analyses) {
      const byQualname = new Map<string, Definition>();
      const children = new Map<string | null, Map<string, Definition>>();
      for (const def of analysis.definitions) {
        byQualname.set(def.qualname, def);
        let siblings = children.get(def.parent);
        if (!siblings) children.set(def.parent, (siblings = new Map()));
        // The last definition of a name wins, as at run time.
        siblings.set(def.name, def);
      }
      const imports = new Map(analysis.imports.map((b) => [b.local, b]));
      this.modules.set(analysis.module, { analysis, byQualname, children, imports, assigned: new Set(analysis.assigned) });
      const parts = analysis.module.split('.');
      for (let i = 1; i < parts.length; i++) this.packages.add(parts.slice(0, i).join('.'));
    }
  }

  get moduleNames(): string[] {
    return [...this.modules.keys()];
  }

  definition(module: string, qualname: string): Definition | undefined {
    return this.modules.get(module)?.byQualname.get(qualname);
  }

  /** A name as seen from inside `def`: enclosing function scopes, then the module. */
  private resolveName(module: string, name: string, from: Definition | null, depth: number): Entity | null {
    const mod = this.modules.get(module);
    if (!mod) return null;
    for (let scope = from; scope; scope = scope.parent ? (mod.byQualname.get(scope.parent) ?? null) : null) {
      // Class bodies are not enclosing scopes for the functions inside them.
      if (scope.kind === 'class') continue;
      const local = mod.children.get(scope.qualname)?.get(name);
      if (local) return { kind: 'def', def: local };
      // A parameter or variable of the function hides the module's name: not known statically.
      if (scope.locals.includes(name)) return null;
    }
    return this.member(module, name, depth);
  }

  /** `name` as an attribute of module `module`: a definition, a re-export, or a submodule. */
  private member(module: string, name: string, depth: number): Entity | null {
    if (depth > MAX_DEPTH) return null;
    const mod = this.modules.get(module);
    if (mod) {
      const def = mod.children.get(null)?.get(name);
      if (def) return { kind: 'def', def };
      const binding = mod.imports.get(name);
      // `from . import name` in a package's __init__ binds its own submodule: not a re-export.
      const ownSubmodule = binding?.kind === 'from' && binding.from === module && binding.name === name;
      if (binding && !ownSubmodule) return this.binding(binding, depth + 1);
      if (mod.assigned.has(name)) return null;
    }
    const sub = `${module}.${name}`;
    return this.isModule(sub) ? { kind: 'module', module: sub } : null;
  }

  private isModule(name: string): boolean {
    return this.modules.has(name) || this.packages.has(name);
  }

  private binding(binding: ImportBinding, depth: number): Entity | null {
    if (binding.kind === 'module') return this.isModule(binding.target) ? { kind: 'module', module: binding.target } : null;
    return this.member(binding.from!, binding.name!, depth);
  }

  private attribute(entity: Entity, name: string, depth: number): Entity | null {
    if (entity.kind === 'module') return this.member(entity.module, name, depth);
    if (entity.def.kind !== 'class') return null;
    const method = this.lookupInClass(entity.def, name, depth, new Set());
    return method ? { kind: 'def', def: method } : null;
  }

  /** A method (or nested class) of `cls` or, depth first through its bases, of an ancestor. */
  private lookupInClass(cls: Definition, name: string, depth: number, seen: Set<string>): Definition | null {
    if (depth > MAX_DEPTH || seen.has(defKey(cls))) return null;
    seen.add(defKey(cls));
    const own = this.modules.get(cls.module)?.children.get(cls.qualname)?.get(name);
    if (own) return own;
    for (const base of this.baseClasses(cls, depth)) {
      const found = this.lookupInClass(base, name, depth + 1, seen);
      if (found) return found;
    }
    return null;
  }

  private baseClasses(cls: Definition, depth: number): Definition[] {
    const parent = cls.parent ? (this.definition(cls.module, cls.parent) ?? null) : null;
    const out: Definition[] = [];
    for (const base of cls.bases) {
      const entity = this.path(cls.module, base, parent, depth + 1);
      if (entity?.kind === 'def' && entity.def.kind === 'class') out.push(entity.def);
    }
    return out;
  }

  private path(module: string, dotted: string, from: Definition | null, depth: number): Entity | null {
    const [head, ...rest] = dotted.split('.');
    let entity = this.resolveName(module, head!, from, depth);
    for (const attr of rest) {
      if (!entity) return null;
      entity = this.attribute(entity, attr, depth);
    }
    return entity;
  }

  private enclosingClass(def: Definition): Definition | null {
    for (let d: Definition | undefined = def; d; d = d.parent ? this.definition(d.module, d.parent) : undefined) {
      if (d.kind === 'method') return d.parent ? (this.definition(d.module, d.parent) ?? null) : null;
    }
    return null;
  }

  /** The repository definition a call inside `def` reaches, or null. */
  resolveCall(def: Definition, call: CallSite): Definition | null {
    const callee = call.callee;
    if (!callee) return null;
    const sup = /^super\(\)\.(\w+)$/.exec(callee);
    const [head, ...rest] = callee.split('.');
    if (sup || head === 'self' || head === 'cls') {
      const cls = this.enclosingClass(def);
      if (!cls || rest.length === 0) return null;
      if (sup) {
        const seen = new Set([defKey(cls)]);
        const found = this.baseClasses(cls, 0).map((b) => this.lookupInClass(b, sup[1]!, 1, seen)).find(Boolean);
        return found ?? null;
      }
      // `self.a.b()`: the type of `self.a` is not known statically.
      if (rest.length > 1) return null;
      return this.lookupInClass(cls, rest[0]!, 0, new Set());
    }
    const entity = this.path(def.module, callee, def, 0);
    return entity?.kind === 'def' ? entity.def : null;
  }

  /** Definitions nested anywhere inside `def`. */
  descendants(def: Definition): Definition[] {
    const mod = this.modules.get(def.module);
    if (!mod) return [];
    const prefix = `${def.qualname}.`;
    return mod.analysis.definitions.filter((d) => d.qualname.startsWith(prefix));
  }

  /**
   * What `def` calls directly inside the repository: its own calls and those of the
   * functions and lambdas nested in it, resolved, without `def` itself or what it nests.
   */
  dependencies(def: Definition): Definition[] {
    const inner = this.descendants(def);
    const excluded = new Set([defKey(def), ...inner.map(defKey)]);
    const found = new Map<string, Definition>();
    for (const scope of [def, ...inner]) {
      for (const call of scope.calls) {
        const target = this.resolveCall(scope, call);
        if (target && !excluded.has(defKey(target))) found.set(defKey(target), target);
      }
    }
    return [...found.values()];
  }
}
