import t from 'tap';
import { detectDependencies, normalizeName, readConfig, readSetupPy } from '../../../env/corpus/dependencies.js';

t.test('pyproject.toml: project dependencies, test extras, dependency groups; never the project itself', async (t) => {
  const root = t.testdir({
    'pyproject.toml': `
[project]
name = "My_Lib"
dependencies = ["simplejson>=3", "packaging; python_version >= '3.8'"]
[project.optional-dependencies]
test = ["freezegun", "my-lib[speedups]"]
speedups = ["ujson"]
docs = ["sphinx"]
[dependency-groups]
lint = ["ruff"]
dev = [{include-group = "lint"}, "hypothesis"]
`,
  });
  const deps = await detectDependencies(root);
  t.same(deps.requirements, ['freezegun', 'hypothesis', "packaging; python_version >= '3.8'", 'ruff', 'simplejson>=3', 'ujson']);
  t.same(deps.sources, ['pyproject.toml']);
});

t.test('requirements files with includes, setup.cfg with continuation lines, tox deps and extras', async (t) => {
  const root = t.testdir({
    'requirements.txt': '# runtime\nrequests==2.31.0  # pinned\n-r requirements/extra.txt\n-e .\n./vendor/thing\ngit+https://example.org/x.git\n--index-url https://example.org/simple\n',
    requirements: { 'extra.txt': 'six\n' },
    'setup.cfg': '[metadata]\nname = mylib\n[options]\ninstall_requires =\n    attrs>=20\n    colorama; sys_platform == "win32"\n[options.extras_require]\ntesting =\n    pytest-timeout\nother =\n    numpy\n',
    'tox.ini': '[tox]\nenvlist = py3\n[testenv]\ndeps =\n    mock\n    {[base]deps}\nextras = other\ncommands = pytest\n',
  });
  const deps = await detectDependencies(root);
  t.same(deps.requirements, ['attrs>=20', 'colorama; sys_platform == "win32"', 'mock', 'numpy', 'pytest-timeout', 'requests==2.31.0', 'six']);
  t.same(deps.sources.sort(), ['requirements.txt', 'requirements/extra.txt', 'setup.cfg', 'tox.ini'].sort());
  t.same(deps.skipped.map((s) => s.line).sort(), ['--index-url https://example.org/simple', './vendor/thing', 'git+https://example.org/x.git', '{[base]deps}'].sort());
});

t.test('Poetry: main and test groups by name, without python', async (t) => {
  const root = t.testdir({ 'pyproject.toml': '[tool.poetry]\nname = "pkg"\n[tool.poetry.dependencies]\npython = "^3.9"\nclick = "^8"\n[tool.poetry.group.test.dependencies]\npytest-mock = "*"\n' });
  t.same((await detectDependencies(root)).requirements, ['click', 'pytest-mock']);
});

t.test('a repository that declares nothing needs nothing', async (t) => {
  t.same(await detectDependencies(t.testdir({ 'mod.py': 'x = 1\n' })), { requirements: [], sources: [], skipped: [] });
});

t.test('names are compared as pip does', async (t) => {
  t.equal(normalizeName('Zope.Interface_x'), 'zope-interface-x');
  t.same([...(readConfig('[a]\nk = 1\n  2\n; c\n[b]\nx: y\n').get('a') ?? [])], [['k', '1\n2']]);
});

t.test('setup.py: setup() arguments read from its syntax, never run; names bound to lists followed', async (t) => {
  const dir = t.testdir({
    'setup.py': [
      'import os',
      'from setuptools import setup, find_packages',
      'os.system("echo this must never run")',
      "REQUIRES = ['requests>=2', \"six\"]",
      "TESTS = ['pytest', 'freezegun'] + ['mock']",
      'setup(',
      "    name='tiny-lib',",
      '    version=os.environ.get("V", "1"),',
      '    install_requires=REQUIRES,',
      '    tests_require=TESTS,',
      "    extras_require={'test': ['hypothesis'], 'docs': ['sphinx'], 'self': ['tiny-lib[docs]']},",
      "    packages=find_packages(exclude=[f'{x}' for x in 'ab']),",
      ')',
    ].join('\n'),
  });
  const deps = await detectDependencies(dir);
  t.same(deps.requirements, ['freezegun', 'hypothesis', 'mock', 'pytest', 'requests>=2', 'six']);
  t.same(deps.sources, ['setup.py']);
  t.same(readSetupPy('setup(name=NAME)\n'), { requires: [], extras: new Map() }, 'a name that is not a literal is no name');
  t.same(readSetupPy('def broken(:\n').requires, [], 'a file that does not parse gives nothing');
});
