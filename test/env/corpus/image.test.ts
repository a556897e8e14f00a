/**
 * The check of snapshots against a sandbox image's files, with a made-up image: what counts
 * as a collision, what is too common to count, copies of a library at another version, and
 * what generation and the corpus check do with a repository the image holds.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import {
  assertCorpusClear,
  corpusCollisions,
  imageCollisions,
  imageFilesOf,
  MIN_COMPARED_BYTES,
  shippedCopies,
  topLevelOf,
  whyImageHolds,
  type ImageFile,
} from '../../../env/corpus/image.js';
import { sha256, snapshotOf } from '../../../env/corpus/snapshot.js';
import { isHgymError } from '../../../env/errors.js';
import { generateForRepo } from '../../../env/tasks/generate.js';
import { fixtureCorpus, SHAPES } from '../../helpers/fixture-corpus.js';

const file = (path: string, content: string): ImageFile => ({ path, size: Buffer.byteLength(content), sha256: sha256(content) });
const imageOf = (...files: ImageFile[]) => imageFilesOf('test/image:latest', `sha256:${'0'.repeat(64)}`, files);

const LONG = 'def helper(x):\n    """Double the value that is passed in, as the tests expect."""\n    return 2 * x\n';

t.test('a snapshot file whose bytes the image holds collides, wherever the image keeps it', async (t) => {
  const snapshot = { files: new Map([['pkg/util.py', sha256(LONG)], ['pkg/core.py', sha256(`${LONG}# changed\n`)]]) };
  const image = imageOf(file('/usr/lib/python3/dist-packages/other/helpers.py', LONG), file('/etc/motd', 'hello\n'));
  t.same(imageCollisions(snapshot, image), [{ file: 'pkg/util.py', imagePath: '/usr/lib/python3/dist-packages/other/helpers.py' }]);
  t.same(imageCollisions(snapshot, imageOf(file('/etc/motd', 'hello\n'))), []);
});

t.test('files too short to carry an answer, and licence texts, do not count', async (t) => {
  const tiny = '"""Package."""\n';
  t.ok(Buffer.byteLength(tiny) < MIN_COMPARED_BYTES);
  const gpl = `GNU GENERAL PUBLIC LICENSE\n${'Version 3, 29 June 2007. '.repeat(20)}\n`;
  const snapshot = { files: new Map([['pkg/__init__.py', sha256('')], ['pkg/version.py', sha256(tiny)], ['COPYING', sha256(gpl)]]) };
  const image = imageOf(file('/usr/lib/python3/dist-packages/x/__init__.py', ''), file('/usr/lib/python3/dist-packages/x/version.py', tiny), file('/usr/share/common-licenses/GPL-3', gpl));
  t.same(imageCollisions(snapshot, image), []);
  const copied = imageOf(file('/usr/share/common-licenses/GPL-3', gpl), file('/usr/share/doc/x/copyright', gpl));
  t.same(imageCollisions(snapshot, copied), [{ file: 'COPYING', imagePath: '/usr/share/doc/x/copyright' }], 'the same text elsewhere still counts');
});

t.test('shippedCopies finds a library at any version: its package anywhere, or its module', async (t) => {
  const image = imageOf(
    file('/usr/lib/python3/dist-packages/pkg_resources/_vendor/pyparsing/core.py', 'x = 1\n'),
    file('/usr/lib/python3/dist-packages/pkg_resources/_vendor/pyparsing/util.py', 'y = 2\n'),
    file('/usr/lib/python3.11/encodings/idna.py', 'codec = 1\n'),
    file('/opt/lib/six.py', 'z = 3\n'),
    file('/usr/share/doc/pyparsing/README', 'docs\n'),
  );
  t.same(shippedCopies(image, { packages: ['pyparsing'], modules: [] }), ['/usr/lib/python3/dist-packages/pkg_resources/_vendor/pyparsing']);
  t.same(shippedCopies(image, { packages: ['idna'], modules: [] }), [], 'a stdlib module of the same name is not the idna package');
  t.same(shippedCopies(image, { packages: [], modules: ['six'] }), ['/opt/lib/six.py']);
  t.same(await topLevelOf(SHAPES), { packages: ['shapes', 'tests'], modules: [] });
});

t.test('whyImageHolds names a collision or a shipped copy, and is null for a clear library', async (t) => {
  const snapshot = await snapshotOf(SHAPES);
  const digest = snapshot.files.get('shapes/base.py')!;
  const held = imageOf({ path: '/usr/lib/python3/dist-packages/geo/base.py', size: 1220, sha256: digest });
  t.match(await whyImageHolds(SHAPES, held), /shapes\/base\.py = \/usr\/lib\/python3\/dist-packages\/geo\/base\.py/);
  const shipped = imageOf(file('/usr/lib/python3/dist-packages/shapes/other.py', 'older = True\n'));
  t.match(await whyImageHolds(SHAPES, shipped), /\/usr\/lib\/python3\/dist-packages\/shapes/);
  t.equal(await whyImageHolds(SHAPES, imageOf(file('/etc/motd', 'hello\n'))), null);
});

t.test('generation leaves out a repository with a file in the image, and says which', async (t) => {
  const root = t.testdir({ pkg: { 'core.py': 'def run(x):\n    """Run the helper on the given value and return it."""\n    return x\n' } });
  mkdirSync(join(root, 'pkg', 'vendor'));
  writeFileSync(join(root, 'pkg', 'vendor', 'helpers.py'), LONG);
  const image = imageOf(file('/usr/lib/python3/dist-packages/helpers.py', LONG));
  const clear = await generateForRepo({ root, name: 'r' }, { tasks: ['func_localize'], image: imageOf() });
  t.ok(clear.instances.length > 0);
  t.equal(clear.summary.imageCollisions, undefined);
  const { instances, summary } = await generateForRepo({ root, name: 'r' }, { tasks: ['func_localize'], image });
  t.same(instances, []);
  t.same(summary.imageCollisions, [{ file: 'pkg/vendor/helpers.py', imagePath: '/usr/lib/python3/dist-packages/helpers.py' }]);
});

t.test('a corpus serving a repository with files in the image is refused with HGYM_ERR_CORPUS_LEAK', async (t) => {
  const { dir, instances } = await fixtureCorpus(t);
  const snapshot = await snapshotOf(SHAPES);
  const clear = imageOf(file('/etc/motd', 'hello\n'));
  t.same(await corpusCollisions(dir, clear), []);
  await t.resolves(assertCorpusClear(dir, clear));
  const image = imageOf({ path: '/usr/lib/python3/dist-packages/shapes/util.py', size: 1071, sha256: snapshot.files.get('shapes/util.py')! });
  const found = await corpusCollisions(dir, image);
  t.same(found, [{ repo: 'shapes', instances: instances.length, image: 'test/image:latest', collisions: [{ file: 'shapes/util.py', imagePath: '/usr/lib/python3/dist-packages/shapes/util.py' }] }]);
  await t.rejects(assertCorpusClear(dir, image), { code: 'HGYM_ERR_CORPUS_LEAK' });
  const err = await assertCorpusClear(dir, image).catch((e: unknown) => e);
  t.ok(isHgymError(err, 'HGYM_ERR_CORPUS_LEAK'));
});
