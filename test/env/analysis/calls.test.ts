import t from 'tap';
import { classifyCall } from '../../../env/analysis/calls.js';
import { analyzeRepo } from '../../../env/analysis/repo.js';
import { defKey } from '../../../env/analysis/resolve.js';

function py(...lines: string[]): string {
  return `${lines.join('\n')}\n`;
}

/** One function per case; its first call (the outermost, in document order) is the case. */
const REPO = {
  pkg: {
    '__init__.py': py('from .stars import *'),
    'stars.py': py('def starred():', '    return 1', '', '', 'def join(parts):', '    return parts'),
    'speed.py': py('def fast():', '    return 1'),
  },
  'm.py': py(
    'import os',
    'import pkg',
    'import pkg.speed',
    'try:',
    '    from pkg.speed import fast',
    'except ImportError:',
    '    from json import dumps as fast',
    'from pkg import starred',
    'HANDLER = None',
    '',
    '',
    'def helper():',
    '    return 0',
    '',
    '',
    'def param(fn):',
    '    return fn()',
    '',
    '',
    'def local():',
    '    fn = helper',
    '    return fn()',
    '',
    '',
    'def variable():',
    '    return HANDLER()',
    '',
    '',
    'def call_of_call(name):',
    '    return getattr(os, name)()',
    '',
    '',
    'def method_named_in_repo(x):',
    '    return x.join()',
    '',
    '',
    'def method_on_call_named_in_repo():',
    '    return helper().join()',
    '',
    '',
    'def method_not_in_repo(x):',
    '    return x.append(1)',
    '',
    '',
    'def literal_receiver(parts):',
    '    return "".join(parts)',
    '',
    '',
    'def builtin():',
    '    return len([])',
    '',
    '',
    'def stdlib():',
    '    return os.path.join("a")',
    '',
    '',
    'def module_called():',
    '    return pkg.speed()',
    '',
    '',
    'def alternatives():',
    '    return fast()',
    '',
    '',
    'def through_star():',
    '    return starred()',
    '',
    '',
    'class Base:',
    '    def hook(self):',
    '        return 1',
    '',
    '    def inherited(self):',
    '        return 2',
    '',
    '',
    'class Mixin:',
    '    def hook(self):',
    '        return super().hook()',
    '',
    '',
    'class Both(Mixin, Base):',
    '    pass',
    '',
    '',
    'class Child(Base):',
    '    def hook(self):',
    '        return super().hook()',
    '',
    '    def old_style(self):',
    '        return super(Child, self).hook()',
    '',
    '    def own(self):',
    '        return self.inherited()',
    '',
    '    def chain(self):',
    '        return self.store.hook()',
    '',
    '    @classmethod',
    '    def make(cls):',
    '        return cls()',
    '',
    '',
    'class Error(ValueError):',
    '    def __init__(self, text):',
    '        super().__init__(text)',
    '',
    '',
    'class Plain:',
    '    def __init__(self):',
    '        super().__init__()',
  ),
};

t.test('each call form: into the repository, provably out of it, or uncertain', async (t) => {
  const a = await analyzeRepo(t.testdir(REPO), { threads: 1 });
  const outcome = (qualname: string): string => {
    const def = a.index.definition('m', qualname)!;
    const o = classifyCall(a.index, def, def.calls[0]!);
    return o.kind === 'repo' ? defKey(o.def) : o.kind;
  };
  const expected: [string, string, string][] = [
    ['param', 'uncertain', 'a parameter called'],
    ['local', 'uncertain', 'a local variable called'],
    ['variable', 'uncertain', 'a module-level variable called'],
    ['call_of_call', 'uncertain', 'the result of a call called'],
    ['method_named_in_repo', 'uncertain', 'x.join() where the repository defines join'],
    ['method_on_call_named_in_repo', 'uncertain', 'helper().join() where the repository defines join'],
    ['method_not_in_repo', 'external', 'x.append() where no repository definition is named append'],
    ['literal_receiver', 'external', 'a method of a str literal'],
    ['builtin', 'external', 'a built-in'],
    ['stdlib', 'external', 'the standard library'],
    ['module_called', 'uncertain', 'a module called'],
    ['alternatives', 'uncertain', 'try/except imports that disagree'],
    ['through_star', 'pkg.stars:starred', 'a name re-exported by a star import'],
    ['Mixin.hook', 'uncertain', 'super() in a mixin'],
    ['Child.hook', 'm:Base.hook', 'super() in single inheritance'],
    ['Child.old_style', 'm:Base.hook', 'super(Child, self)'],
    ['Child.own', 'm:Base.inherited', 'self. method inherited'],
    ['Child.chain', 'uncertain', 'self.attr.method() where the repository defines method'],
    ['Child.make', 'uncertain', 'cls() may be a subclass'],
    ['Error.__init__', 'external', 'super().__init__ reaching a built-in base'],
    ['Plain.__init__', 'external', 'super().__init__ reaching object'],
  ];
  for (const [qualname, want, why] of expected) t.equal(outcome(qualname), want, `${qualname}: ${why}`);
});

t.test('a report names each uncertain call with its reason; resolved calls are the dependencies', async (t) => {
  const a = await analyzeRepo(t.testdir(REPO), { threads: 1 });
  const report = a.index.report(a.index.definition('m', 'local')!);
  t.same(report.dependencies, []);
  t.same(report.uncertain.map((u) => [u.scope.qualname, u.call.callee, u.call.line]), [['local', 'fn', 22]]);
  t.type(report.uncertain[0]!.reason, 'string');
  const child = a.index.report(a.index.definition('m', 'Child.hook')!);
  t.same([child.dependencies.map(defKey), child.uncertain], [['m:Base.hook'], []]);
});
