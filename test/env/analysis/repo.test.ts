import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { analyzeRepo } from '../../../env/analysis/repo.js';

t.test('worker threads and the in-process path give the same analysis, in file order', async (t) => {
  const root = t.testdir({});
  mkdirSync(join(root, 'pkg'));
  writeFileSync(join(root, 'pkg', '__init__.py'), 'from .m0 import f0\n');
  for (let i = 0; i < 12; i++) {
    const next = (i + 1) % 12;
    writeFileSync(join(root, 'pkg', `m${i}.py`), `from .m${next} import f${next}\n\ndef f${i}(x):\n    """Call the next one."""\n    return f${next}(x)\n`);
  }
  writeFileSync(join(root, 'pkg', 'broken.py'), 'def (:\n');
  const serial = await analyzeRepo(root, { threads: 1 });
  const parallel = await analyzeRepo(root, { threads: 2 });
  t.same(parallel.modules, serial.modules);
  t.same(parallel.skipped, serial.skipped);
  t.same(serial.skipped.map((s) => s.file), ['pkg/broken.py']);
  t.same(serial.modules.map((m) => m.file), ['pkg/__init__.py', ...['0', '1', '10', '11', '2', '3', '4', '5', '6', '7', '8', '9'].map((i) => `pkg/m${i}.py`)]);
  const f3 = parallel.index.definition('pkg.m3', 'f3')!;
  t.same(parallel.index.dependencies(f3).map((d) => `${d.module}:${d.qualname}`), ['pkg.m4:f4']);
  t.equal(serial.stats.files, 14);
});
