/**
 * What each call of a definition reaches: a repository definition (a function, a method, a
 * class instantiated), something provably outside the repository, or something static
 * analysis cannot tell. A call is uncertain when it may reach a repository definition that
 * cannot be named: a parameter or variable called, a call on the result of a call or an
 * item, `super()` where the method resolution order is not fixed, a method called on a value
 * of unknown type when some repository definition has that method's name. A method name no
 * repository definition has cannot reach the repository, whatever the receiver.
 */
import { defKey, type Entity, type RepoIndex } from './resolve.js';
import type { CallSite, Definition } from './types.js';

export type CallOutcome = { kind: 'repo'; def: Definition } | { kind: 'external' } | { kind: 'uncertain'; reason: string };

export interface CallReport {
  /** The repository definitions reached, without the definition itself or what it nests. */
  dependencies: Definition[];
  uncertain: { scope: Definition; call: CallSite; reason: string }[];
}

const EXTERNAL_CALL: CallOutcome = { kind: 'external' };

/** What every class inherits from `object` (CPython 3.11): where a single-inheritance `super()` chain ends. */
const OBJECT_ATTRIBUTES = new Set(
  `__class__ __delattr__ __dir__ __doc__ __eq__ __format__ __ge__ __getattribute__ __getstate__ __gt__ __hash__
  __init__ __init_subclass__ __le__ __lt__ __ne__ __new__ __reduce__ __reduce_ex__ __repr__ __setattr__
  __sizeof__ __str__ __subclasshook__`.split(/\s+/),
);

const SUPER = /^super\(([^)]*)\)\.(.+)$/u;

function uncertain(reason: string): CallOutcome {
  return { kind: 'uncertain', reason };
}

function methodOnUnknown(index: RepoIndex, name: string): CallOutcome {
  return index.definedNames.has(name) ? uncertain(`.${name}() on a value of unknown type, and the repository defines ${name}`) : EXTERNAL_CALL;
}

/** A call of what `entity` denotes. */
function called(entity: Entity, callee: string): CallOutcome {
  switch (entity.kind) {
    case 'def':
      return { kind: 'repo', def: entity.def };
    case 'external':
      return EXTERNAL_CALL;
    case 'module':
      return uncertain(`${callee} is a module`);
    case 'unknown':
      return uncertain(`${callee} is a parameter, a variable or an attribute of one`);
  }
}

function enclosingClass(index: RepoIndex, def: Definition): Definition | null {
  for (let d: Definition | null = def; d; d = index.parentOf(d)) if (d.kind === 'method') return index.parentOf(d);
  return null;
}

const MAX_CHAIN = 32;

function basesBesidesObject(index: RepoIndex, cls: Definition): Entity[] {
  return index.bases(cls).filter((_, i) => cls.bases[i] !== 'object');
}

/**
 * `super().m()` in `cls`: followed up a single-inheritance chain. Where the class takes
 * part in multiple inheritance, or the chain forks or leads to an unknown base, the
 * method that runs is not fixed statically.
 */
function superCall(index: RepoIndex, def: Definition, named: string | undefined, method: string): CallOutcome {
  let cls = enclosingClass(index, def);
  if (named !== undefined && named !== cls?.name) {
    const entity = index.resolveName(def.module, named, def);
    cls = entity.kind === 'def' && entity.def.kind === 'class' ? entity.def : null;
  }
  if (!cls) return uncertain('super() outside a known class');
  if (index.inMultipleInheritance(cls)) return methodOnUnknown(index, method);
  for (let depth = 0; depth < MAX_CHAIN; depth++) {
    const bases = basesBesidesObject(index, cls);
    if (bases.length === 0) return OBJECT_ATTRIBUTES.has(method) ? EXTERNAL_CALL : methodOnUnknown(index, method);
    const base = bases[0]!;
    if (bases.length === 1 && base.kind === 'external') return EXTERNAL_CALL;
    if (bases.length > 1 || base.kind !== 'def' || base.def.kind !== 'class') return methodOnUnknown(index, method);
    const found = index.ownMember(base.def, method);
    if (found) return { kind: 'repo', def: found };
    cls = base.def;
  }
  return methodOnUnknown(index, method);
}

/** Where one call of `def` (a call in its own body, not in what it nests) leads. */
export function classifyCall(index: RepoIndex, def: Definition, call: CallSite): CallOutcome {
  const { callee } = call;
  if (callee === null) {
    if (call.method === undefined) return uncertain('the callee is not a name (the result of a call, an item, an expression)');
    return call.builtinReceiver ? EXTERNAL_CALL : methodOnUnknown(index, call.method);
  }
  const sup = SUPER.exec(callee);
  if (sup) return superCall(index, def, sup[1] || undefined, sup[2]!);
  const parts = callee.split('.');
  const name = parts[parts.length - 1]!;
  const cls = parts[0] === 'self' || parts[0] === 'cls' ? enclosingClass(index, def) : null;
  if (cls) {
    // `self.m()` is taken as the method of the class it is written in, or of an ancestor.
    if (parts.length === 1) return uncertain(`${callee}() may instantiate a subclass`);
    const found = parts.length === 2 ? index.lookupInClass(cls, name) : null;
    return found ? { kind: 'repo', def: found } : methodOnUnknown(index, name);
  }
  if (parts.length === 1) return called(index.resolveName(def.module, callee, def), callee);
  const receiver = index.path(def.module, parts.slice(0, -1).join('.'), def);
  switch (receiver.kind) {
    case 'external':
      return EXTERNAL_CALL;
    case 'unknown':
      return methodOnUnknown(index, name);
    case 'module':
      return called(index.attribute(receiver, name), callee);
    case 'def': {
      const found = receiver.def.kind === 'class' ? index.lookupInClass(receiver.def, name) : null;
      return found ? { kind: 'repo', def: found } : methodOnUnknown(index, name);
    }
  }
}

/**
 * Every call of `def` and of the functions, lambdas and classes nested in it: the
 * repository definitions they reach and the calls whose target is uncertain.
 */
export function callReport(index: RepoIndex, def: Definition): CallReport {
  const inner = index.descendants(def);
  const excluded = new Set([defKey(def), ...inner.map(defKey)]);
  const found = new Map<string, Definition>();
  const uncertainCalls: CallReport['uncertain'] = [];
  for (const scope of [def, ...inner]) {
    for (const call of scope.calls) {
      const outcome = classifyCall(index, scope, call);
      if (outcome.kind === 'repo' && !excluded.has(defKey(outcome.def))) found.set(defKey(outcome.def), outcome.def);
      else if (outcome.kind === 'uncertain') uncertainCalls.push({ scope, call, reason: outcome.reason });
    }
  }
  return { dependencies: [...found.values()], uncertain: uncertainCalls };
}
