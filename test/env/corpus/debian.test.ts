import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import t from 'tap';
import { fetchDebianLibraries, parseDebianLicense, type LibraryEntry } from '../../../env/corpus/debian.js';

const DEP5 = `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: example
License: GPL-2+

Files: debian/*
Copyright: 2020 A Maintainer <m@example.org>
License: GPL-2+

Files: *
Copyright: 2010-2020 Upstream Authors
License: BSD-3-clause

License: BSD-3-clause
 Redistribution and use in source and binary forms, with or without
 .
 modification, are permitted provided that ...

License: GPL-2+
 On Debian systems, see /usr/share/common-licenses/GPL-2.
`;

t.test('parseDebianLicense reads the Files: * paragraph, then falls back', async (t) => {
  t.equal(parseDebianLicense(DEP5), 'BSD-3-clause');
  t.equal(parseDebianLicense(DEP5.replace('Files: *\n', 'Files: src/*\n')), 'GPL-2+', 'first License: line');
  t.equal(parseDebianLicense('Files: * extra/*\r\nCopyright: x\r\nLicense: Expat\r\n'), 'Expat');
  const preDep5 = 'Copyright (c) the Team\n\nLicense:\n\n Redistribution and use in source and binary forms ...\n'
    + ' may not be used to endorse or\n promote products derived from this software\n';
  t.equal(parseDebianLicense(preDep5), 'BSD-3-clause', 'licence text under a bare License:');
  t.equal(parseDebianLicense('This package was debianized by someone.\n'), 'unknown');
});

t.test('rejects a spec whose name or package could escape the corpus or reach apt as an option', async (t) => {
  const dir = t.testdir();
  await t.rejects(fetchDebianLibraries({ dir, libraries: [{ name: '../x', package: 'python3-six' }] }));
  await t.rejects(fetchDebianLibraries({ dir, libraries: [{ name: 'six', package: '-oDebug=1' }] }));
});

function walk(dir: string): string[] {
  return readdirSync(dir, { recursive: true }).map(String);
}

t.test('fetches six and toolz from Debian into repos/ with a manifest', { skip: !existsSync('/usr/bin/apt-get') && 'needs apt-get' }, async (t) => {
  const dir = t.testdir();
  const libraries = [{ name: 'six', package: 'python3-six' }, { name: 'toolz', package: 'python3-toolz' }];
  const progress: [number, number, string][] = [];
  const entries = await fetchDebianLibraries({ dir, libraries, onProgress: (...args) => progress.push(args) });

  t.same(progress, [[1, 2, 'six'], [2, 2, 'toolz']]);
  t.same(entries.map((e) => [e.name, e.package]), [['six', 'python3-six'], ['toolz', 'python3-toolz']]);
  for (const entry of entries) {
    t.equal(entry.root, join(dir, 'repos', entry.name));
    t.ok(isAbsolute(entry.root));
    t.match(entry.version, /^\S+$/);
    t.ok(entry.license.length > 0 && entry.license !== 'unknown', `${entry.name} license ${entry.license}`);
    t.ok(entry.files > 0 && entry.bytes > 0);
    t.ok(statSync(join(entry.root, 'LICENSE')).isFile());
    t.same(walk(entry.root).filter((p) => /\.dist-info|\.egg-info|__pycache__|\.pyc$/.test(p)), []);
  }
  t.ok(statSync(join(dir, 'repos/six/six.py')).isFile());
  t.ok(statSync(join(dir, 'repos/toolz/toolz/__init__.py')).isFile());
  t.ok(statSync(join(dir, 'repos/toolz/toolz/tests')).isDirectory(), 'toolz ships its tests');
  const toolz = entries[1]!;
  const py = walk(toolz.root).filter((p) => p.endsWith('.py'));
  t.equal(toolz.files, py.length);
  t.equal(toolz.bytes, py.reduce((sum, p) => sum + statSync(join(toolz.root, p)).size, 0));

  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { source: string; libraries: LibraryEntry[] };
  t.match(manifest.source, /^debian \w+$/);
  t.same(manifest.libraries, entries.map((e) => ({ ...e, root: `repos/${e.name}` })));
  t.same(readdirSync(dir).sort(), ['manifest.json', 'repos'], 'no staging or temp files left behind');

  const start = performance.now();
  const again = await fetchDebianLibraries({ dir, libraries });
  const elapsed = performance.now() - start;
  t.ok(elapsed < 1000, `second run took ${elapsed.toFixed(0)} ms`);
  t.same(again, entries);
  t.same(readdirSync(join(dir, 'repos')).sort(), ['six', 'toolz']);
});
