import t, { type Test } from 'tap';
import { analyzeRepo, type RepoAnalysis } from '../../../env/analysis/repo.js';
import { defKey, RepoIndex } from '../../../env/analysis/resolve.js';
import type { Definition } from '../../../env/analysis/types.js';

/** Source text from lines, so that line numbers in the tests can be read off the array. */
function py(...lines: string[]): string {
  return `${lines.join('\n')}\n`;
}

/**
 * A small repository with one example of every call form the resolver knows, and of
 * every form it must leave alone. Line numbers are those of the arrays (1-based).
 */
const FIXTURE = {
  pkg: {
    '__init__.py': py(
      '"""The package."""',
      'from .core import Thing',
      'VERSION = "1.0"',
    ),
    'core.py': py(
      'class Thing:',
      '    def __init__(self):',
      '        self.n = 0',
      '',
      '    def run(self):',
      '        return self.n',
    ),
    'base.py': py(
      'class Base:',
      '    def helper(self):',
      '        return 1',
      '',
      '    @classmethod',
      '    def build(cls):',
      '        return cls()',
      '',
      '    def greet(self):',
      '        return "hi"',
    ),
    'mod.py': py(
      'def f():',
      '    return 1',
      '',
      '',
      'def g():',
      '    return 2',
      '',
      '',
      'class Klass:',
      '    def method(self):',
      '        return 3',
    ),
    'other.py': py(
      'def h():',
      '    return 4',
    ),
    sub: {
      '__init__.py': '',
      'sibling.py': py(
        'def sib_f():',
        '    return 5',
        '',
        '',
        'def sib_g():',
        '    return 6',
      ),
      'inner.py': py(
        'from . import sibling',
        'from .sibling import sib_f',
        'from ..other import h',
        '',
        '',
        'def uses_module():',
        '    return sibling.sib_g()',
        '',
        '',
        'def uses_name():',
        '    return sib_f()',
        '',
        '',
        'def uses_parent():',
        '    return h()',
      ),
    },
  },
  'app.py': py(
    'import os', // 1
    'import json',
    'import numpy as np',
    'import pkg.mod',
    'import pkg.mod as m', // 5
    'from pkg.mod import f as g_alias',
    'from pkg import Thing',
    'from pkg import mod',
    'from pkg.base import Base',
    '', // 10
    '',
    'def local_helper():',
    '    return 0',
    '',
    '', // 15
    'def plain():',
    '    return local_helper()',
    '',
    '',
    'def with_nested():', // 20
    '    def inner():',
    '        return pkg.mod.f()',
    '    fn = lambda: pkg.mod.g()',
    '    return inner, fn',
    '', // 25
    '',
    'def dotted():',
    '    return pkg.mod.f()',
    '',
    '', // 30
    'def aliased():',
    '    return m.g()',
    '',
    '',
    'def from_alias():', // 35
    '    return g_alias()',
    '',
    '',
    'def reexport():',
    '    return Thing()', // 40
    '',
    '',
    'def module_attribute():',
    '    return mod.Klass.method(None)',
    '', // 45
    '',
    'def instantiate():',
    '    return Derived()',
    '',
    '', // 50
    'def negatives(x):',
    '    len(x)',
    '    print(x)',
    '    os.path.join("a", "b")',
    '    json.dumps(x)', // 55
    '    np.array(x)',
    '    fn = len',
    '    fn(x)',
    '    return x',
    '', // 60
    '',
    'class Derived(Base):',
    '    def own(self):',
    '        return 7',
    '', // 65
    '    def uses_self(self):',
    '        self.own()',
    '        self.helper()',
    '        return self.attr.run()',
    '', // 70
    '    def uses_super(self):',
    '        return super().greet()',
    '',
    '    @classmethod',
    '    def own_cm(cls):', // 75
    '        return 8',
    '',
    '    @classmethod',
    '    def uses_cls(cls):',
    '        cls.own_cm()', // 80
    '        return cls.build()',
    '',
    '    def bare_method_name(self):',
    '        return own()',
  ),
};

function keys(defs: readonly Definition[]): string[] {
  return defs.map(defKey).sort();
}

async function analysed(t: Test): Promise<RepoAnalysis> {
  const root = t.testdir(FIXTURE);
  return analyzeRepo(root, { threads: 1 });
}

function def(analysis: RepoAnalysis, module: string, qualname: string): Definition {
  const found = analysis.index.definition(module, qualname);
  if (!found) throw new Error(`no definition ${module}:${qualname}`);
  return found;
}

t.test('the fixture analyses without skipped files', async (t) => {
  const a = await analysed(t);
  t.same(a.skipped, []);
  t.same(a.modules.map((m) => m.module), ['app', 'pkg', 'pkg.base', 'pkg.core', 'pkg.mod', 'pkg.other', 'pkg.sub', 'pkg.sub.inner', 'pkg.sub.sibling']);
  t.same(a.index.moduleNames.sort(), a.modules.map((m) => m.module).sort());
  t.equal(a.stats.files, 9, 'every .py file is counted');
});

t.test('dependencies of each call form', async (t) => {
  const a = await analysed(t);
  const deps = (module: string, qualname: string): string[] => keys(a.index.dependencies(def(a, module, qualname)));

  t.same(deps('app', 'plain'), ['app:local_helper'], 'a plain module-level function call');
  t.same(deps('app', 'with_nested'), ['pkg.mod:f', 'pkg.mod:g'], 'calls of a nested function and a lambda count, the nested def does not');
  t.same(deps('app', 'with_nested.inner'), ['pkg.mod:f'], 'the nested function on its own');
  t.same(deps('app', 'dotted'), ['pkg.mod:f'], 'import pkg.mod; pkg.mod.f()');
  t.same(deps('app', 'aliased'), ['pkg.mod:g'], 'import pkg.mod as m; m.g()');
  t.same(deps('app', 'from_alias'), ['pkg.mod:f'], 'from pkg.mod import f as g_alias; g_alias()');
  t.same(deps('app', 'reexport'), ['pkg.core:Thing'], 'a class re-exported by pkg/__init__.py resolves to its definition');
  t.same(deps('app', 'module_attribute'), ['pkg.mod:Klass.method'], 'mod.Klass.method()');
  t.same(deps('app', 'instantiate'), ['app:Derived'], 'instantiating a class calls the class');
  t.same(deps('app', 'negatives'), [], 'builtins, stdlib, third-party and a local variable holding a function');

  t.same(deps('pkg.sub.inner', 'uses_module'), ['pkg.sub.sibling:sib_g'], 'from . import sibling; sibling.sib_g()');
  t.same(deps('pkg.sub.inner', 'uses_name'), ['pkg.sub.sibling:sib_f'], 'from .sibling import sib_f');
  t.same(deps('pkg.sub.inner', 'uses_parent'), ['pkg.other:h'], 'from ..other import h');

  t.same(deps('app', 'Derived.uses_self'), ['app:Derived.own', 'pkg.base:Base.helper'], 'self.own(), an inherited self.helper(); not self.attr.run()');
  t.same(deps('app', 'Derived.uses_super'), ['pkg.base:Base.greet'], 'super().greet()');
  t.same(deps('app', 'Derived.uses_cls'), ['app:Derived.own_cm', 'pkg.base:Base.build'], 'cls.own_cm() and an inherited classmethod cls.build()');
  t.same(deps('app', 'Derived.bare_method_name'), [], 'a class body is not an enclosing scope: a bare method name does not resolve');
});

t.test('resolveCall on single call sites', async (t) => {
  const a = await analysed(t);
  const resolve = (module: string, qualname: string): (string | null)[] => {
    const d = def(a, module, qualname);
    return d.calls.map((c) => {
      const target = a.index.resolveCall(d, c);
      return target ? defKey(target) : null;
    });
  };
  t.same(
    def(a, 'app', 'negatives').calls.map((c) => c.callee),
    ['len', 'print', 'os.path.join', 'json.dumps', 'np.array', 'fn'],
  );
  t.same(resolve('app', 'negatives'), [null, null, null, null, null, null]);
  t.same(resolve('app', 'Derived.uses_self'), ['app:Derived.own', 'pkg.base:Base.helper', null]);
  t.same(def(a, 'app', 'Derived.uses_super').calls.map((c) => c.callee), ['super().greet', 'super'], 'super() is itself a call');
  t.same(resolve('app', 'with_nested'), ['pkg.mod:g'], 'only the lambda call is in with_nested itself');
  t.same(def(a, 'app', 'with_nested').calls.map((c) => c.inLambda), [true]);
  t.same(def(a, 'app', 'with_nested.inner').calls.map((c) => [c.line, c.inLambda]), [[22, false]]);
  t.same(resolve('app', 'Derived.uses_cls'), ['app:Derived.own_cm', 'pkg.base:Base.build']);
  t.same(resolve('pkg.base', 'Base.build'), [null], 'cls() is not a call of a named definition');
  t.equal(a.index.resolveCall(def(a, 'app', 'plain'), { line: 1, callee: null, inLambda: false }), null, 'a callee that is not a dotted name');
  t.equal(a.index.resolveCall(def(a, 'app', 'plain'), { line: 1, callee: 'self.own', inLambda: false }), null, 'self outside a class');
});

t.test('a module-level name assigned in a package stops resolution before a submodule of that name', async (t) => {
  const root = t.testdir({
    pkg: { '__init__.py': py('helpers = None'), 'helpers.py': py('def target():', '    return 1') },
    'b.py': py('import pkg', '', '', 'def user():', '    return pkg.helpers.target()'),
  });
  const a = await analyzeRepo(root, { threads: 1 });
  t.same(keys(a.index.dependencies(def(a, 'b', 'user'))), []);
});

t.test('from . import helpers in a package __init__ binds the submodule, for the package and its importers', async (t) => {
  const root = t.testdir({
    pkg: {
      '__init__.py': py('from . import helpers', '', '', 'def init_user():', '    return helpers.target()'),
      'helpers.py': py('def target():', '    return 1'),
    },
    'b.py': py('import pkg', 'from pkg import helpers', '', '', 'def user():', '    return helpers.target()', '', '', 'def dotted_user():', '    return pkg.helpers.target()'),
  });
  const a = await analyzeRepo(root, { threads: 1 });
  t.same(keys(a.index.dependencies(def(a, 'pkg', 'init_user'))), ['pkg.helpers:target']);
  t.same(keys(a.index.dependencies(def(a, 'b', 'user'))), ['pkg.helpers:target']);
  t.same(keys(a.index.dependencies(def(a, 'b', 'dotted_user'))), ['pkg.helpers:target']);
});

t.test('namespace packages (no __init__.py) are reached through imports', async (t) => {
  const root = t.testdir({
    ns: { deep: { 'mod.py': py('def nf():', '    return 1') } },
    'b.py': py('import ns.deep.mod', 'import ns.deep.mod as alias', 'from ns.deep import mod', '', '', 'def user():', '    ns.deep.mod.nf()', '    alias.nf()', '    return mod.nf()'),
  });
  const a = await analyzeRepo(root, { threads: 1 });
  t.same(a.modules.map((m) => m.module), ['b', 'ns.deep.mod']);
  const d = def(a, 'b', 'user');
  t.same(d.calls.map((c) => { const r = a.index.resolveCall(d, c); return r ? defKey(r) : null; }), ['ns.deep.mod:nf', 'ns.deep.mod:nf', 'ns.deep.mod:nf']);
});

t.test('parameters and local variables hide module-level definitions of the same name', async (t) => {
  const root = t.testdir({
    'b.py': py(
      'def helper():', // 1
      '    return 1',
      '',
      '',
      'def param(helper):', // 5
      '    return helper()',
      '',
      '',
      'def default_param(helper=None, *, key=helper()):',
      '    return helper()', // 10
      '',
      '',
      'def assigned():',
      '    helper = len',
      '    return helper()', // 15
      '',
      '',
      'def unpacked(pairs):',
      '    for helper, _ in pairs:',
      '        helper()', // 20
      '    with open("x") as (helper):',
      '        helper()',
      '    a, (b, helper) = 1, (2, 3)',
      '    return [helper() for helper in pairs]',
      '', // 25
      '',
      'def closure(helper):',
      '    def inner():',
      '        return helper()',
      '    return inner', // 30
      '',
      '',
      'def lambda_param():',
      '    return lambda helper: helper()',
      '', // 35
      '',
      'def attribute_target(obj):',
      '    obj.helper = 1',
      '    obj[0] = 2',
      '    return helper()', // 40
    ),
  });
  const a = await analyzeRepo(root, { threads: 1 });
  const deps = (qualname: string): string[] => keys(a.index.dependencies(def(a, 'b', qualname)));
  t.same(deps('param'), [], 'a parameter');
  t.same(deps('default_param'), [], 'a parameter with a default; the call in the default belongs to the module');
  t.same(deps('assigned'), [], 'a local variable holding another function');
  t.same(deps('unpacked'), [], 'loop, with and unpacking targets, comprehension variables');
  t.same(deps('closure'), [], 'a nested function sees the enclosing parameter, not the module name');
  t.same(deps('lambda_param'), [], 'a lambda parameter');
  t.same(deps('attribute_target'), ['b:helper'], 'assigning an attribute or an item binds no local name');
  t.same(def(a, 'b', 'param').locals, ['helper']);
  t.same(def(a, 'b', 'default_param').locals, ['helper', 'key']);
  t.same(def(a, 'b', 'unpacked').locals, ['pairs', 'helper', '_', 'a', 'b']);
  t.same(def(a, 'b', 'attribute_target').locals, ['obj']);
});

t.test('a definition is not its own dependency; its class is', async (t) => {
  const root = t.testdir({
    'a.py': py(
      'def rec(n):',
      '    return rec(n - 1) if n else other()',
      '',
      '',
      'def other():',
      '    return 0',
      '',
      '',
      'class C:',
      '    def again(self):',
      '        return self.again()',
      '',
      '    def copy(self):',
      '        return C()',
    ),
  });
  const a = await analyzeRepo(root, { threads: 1 });
  t.same(keys(a.index.dependencies(def(a, 'a', 'rec'))), ['a:other']);
  t.same(keys(a.index.dependencies(def(a, 'a', 'C.again'))), []);
  t.same(keys(a.index.dependencies(def(a, 'a', 'C.copy'))), ['a:C']);
  t.same(keys(a.index.dependencies(def(a, 'a', 'C'))), [], 'a class: its methods calling the class or each other add nothing');
});

t.test('the last definition of a name wins', async (t) => {
  const root = t.testdir({
    'a.py': py('def f():', '    return 1', '', '', 'def f():', '    return 2', '', '', 'def user():', '    return f()'),
  });
  const a = await analyzeRepo(root, { threads: 1 });
  const deps = a.index.dependencies(def(a, 'a', 'user'));
  t.same(deps.map((d) => d.defLine), [5]);
});

t.test('cyclic re-exports and cyclic bases end', async (t) => {
  const root = t.testdir({
    'a.py': py('from b import x', 'class A(B):', '    def m(self):', '        return self.nope()', '', 'class B(A):', '    pass', '', 'def user():', '    return x()'),
    'b.py': py('from a import x'),
  });
  const a = await analyzeRepo(root, { threads: 1 });
  t.same(keys(a.index.dependencies(def(a, 'a', 'user'))), []);
  t.same(keys(a.index.dependencies(def(a, 'a', 'A.m'))), []);
});

t.test('descendants and nested qualnames', async (t) => {
  const a = await analysed(t);
  t.same(a.index.descendants(def(a, 'app', 'with_nested')).map((d) => d.qualname), ['with_nested.inner']);
  t.same(a.index.descendants(def(a, 'app', 'plain')), []);
  t.same(
    a.index.descendants(def(a, 'app', 'Derived')).map((d) => d.qualname),
    ['Derived.own', 'Derived.uses_self', 'Derived.uses_super', 'Derived.own_cm', 'Derived.uses_cls', 'Derived.bare_method_name'],
  );
});

t.test('an index built directly from analyses', async (t) => {
  const a = await analysed(t);
  const index = new RepoIndex(a.modules.filter((m) => m.module !== 'pkg.mod'));
  t.same(keys(index.dependencies(def(a, 'app', 'dotted'))), [], 'a module missing from the index resolves to nothing');
  t.equal(index.definition('pkg.mod', 'f'), undefined);
});
