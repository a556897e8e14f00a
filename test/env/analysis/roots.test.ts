import t from 'tap';
import { analyzeRepo } from '../../../env/analysis/repo.js';
import { defKey } from '../../../env/analysis/resolve.js';
import { declaredRoots, importRoots } from '../../../env/analysis/roots.js';

function py(...lines: string[]): string {
  return `${lines.join('\n')}\n`;
}

t.test('importRoots: declared, src, the root, then directories holding top-level packages', async (t) => {
  t.same(importRoots(['pkg/__init__.py', 'pkg/a.py', 'tests/test_a.py']), ['']);
  t.same(importRoots(['src/pkg/__init__.py', 'src/pkg/a.py', 'setup.py']), ['src', '']);
  t.same(importRoots(['python/lib/pkg/__init__.py', 'other/pkg2/__init__.py', 'tools/x.py']), ['', 'other', 'python/lib'], 'shallowest first');
  t.same(importRoots(['code/pkg/__init__.py'], ['code', 'missing', './code/']), ['code', ''], 'a declared directory without Python files is ignored');
  t.same(importRoots(['pkg/__init__.py', 'pkg/sub/__init__.py'], ['pkg']), [''], 'a package is not a root');
  t.same(importRoots(['src/ns/mod.py']), ['src', ''], 'src/ with a namespace package');
});

t.test('declaredRoots reads the package directory settings of the packaging files', async (t) => {
  const cases: [Record<string, string>, string[]][] = [
    [{ 'pyproject.toml': '[tool.setuptools.packages.find]\nwhere = ["src"]\n' }, ['src']],
    [{ 'pyproject.toml': '[tool.setuptools]\npackage-dir = {"" = "lib"}\n' }, ['lib']],
    [{ 'pyproject.toml': '[tool.poetry]\npackages = [{ include = "pkg", from = "source" }]\n' }, ['source']],
    [{ 'pyproject.toml': '[tool.hatch.build.targets.wheel]\npackages = ["code/pkg"]\n' }, ['code']],
    [{ 'setup.cfg': '[options]\npackage_dir =\n    =lib\n' }, ['lib']],
    [{ 'setup.py': 'setup(package_dir={"": "src"}, packages=find_packages(where="src"))\n' }, ['src', 'src']],
    [{ 'README.md': 'nothing' }, []],
  ];
  for (const [files, roots] of cases) t.same(await declaredRoots(t.testdir(files)), roots, JSON.stringify(files));
});

t.test('absolute self-imports resolve in a src/ layout, a declared directory and beside a script', async (t) => {
  const root = t.testdir({
    'pyproject.toml': '[tool.setuptools.packages.find]\nwhere = ["src"]\n',
    src: {
      pkg: {
        '__init__.py': py('from pkg.exceptions import ValidationError'),
        'exceptions.py': py('class ValidationError(Exception):', '    pass'),
        'validate.py': py(
          'import pkg.exceptions as exc',
          'from pkg.exceptions import ValidationError',
          'from pkg import ValidationError as Reexported',
          '',
          '',
          'def check(x):',
          '    ValidationError(x)',
          '    exc.ValidationError(x)',
          '    return Reexported(x)',
        ),
      },
    },
    scripts: { 'helper.py': py('def tool():', '    return 1'), 'run.py': py('import helper', 'import json', '', '', 'def main():', '    json.dumps(1)', '    return helper.tool()') },
    pkg: { '__init__.py': '', 'exceptions.py': py('class ValidationError(Exception):', '    pass') },
  });
  const a = await analyzeRepo(root, { threads: 1 });
  t.same(a.importRoots, ['src', '']);
  const deps = (module: string, qualname: string) => a.index.dependencies(a.index.definition(module, qualname)!).map(defKey);
  t.same(deps('src.pkg.validate', 'check'), ['src.pkg.exceptions:ValidationError'], 'the declared src/ comes before a same-named package at the root');
  t.same(deps('scripts.run', 'main'), ['scripts.helper:tool'], 'a script imports the modules beside it');
});
