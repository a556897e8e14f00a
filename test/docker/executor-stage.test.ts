/**
 * The executor's stage (docker/executor/bases.py), run on this host with its Python: a stage
 * never holds a file the base's instances change, and a workspace finished from it is the one
 * laid out without it, file for file; a stage that does not cover an instance's changes is
 * dropped and the workspace laid out whole.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';

const EXECUTOR = new URL('../../docker/executor/', import.meta.url).pathname;

const SCRIPT = String.raw`
import hashlib, io, json, os, sys, tarfile
sys.path.insert(0, sys.argv[1])
import bases
root = sys.argv[2]
bases.STAGE_DIR = os.path.join(root, "workspace", ".hgym-stage")
os.makedirs(os.path.join(root, "workspace"))
files = {"pkg/__init__.py": b"", "pkg/a.py": b"def a():\n    return 'original a'\n", "pkg/b.py": b"def b():\n    return 'original b'\n", "README": b"readme\n", "pkg/sub/c.py": b"c = 1\n"}
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
    for d in ["./", "./pkg/", "./pkg/sub/"]:
        info = tarfile.TarInfo(d); info.type = tarfile.DIRTYPE; info.mode = 0o755; tar.addfile(info)
    for path, data in sorted(files.items()):
        info = tarfile.TarInfo("./" + path); info.size = len(data); info.mode = 0o644; tar.addfile(info, io.BytesIO(data))
tar_path = os.path.join(root, "base.tar")
with open(tar_path, "wb") as f:
    f.write(buf.getvalue())
def held():
    return {"base": (os.open(tar_path, os.O_RDONLY), os.open(tar_path, os.O_RDONLY))}
def tree(d):
    out = {}
    for dirpath, dirs, names in os.walk(d):
        for n in names:
            p = os.path.join(dirpath, n)
            out[os.path.relpath(p, d)] = hashlib.sha256(open(p, "rb").read()).hexdigest()
    return out
result = {}
# The instance changes pkg/a.py; its base's instances change pkg/a.py and pkg/b.py.
staged = {}
h = held()
ALL = sorted(files)
bases.stage({"base": "base", "leave_out": ["pkg/a.py", "pkg/b.py"], "files": ALL}, h, staged)
result["stage"] = sorted(p for p, digest in tree(bases.STAGE_DIR).items() if digest != hashlib.sha256(b"").hexdigest() or p == "pkg/__init__.py")
result["staged_frame"] = bases.materialize({"path": os.path.join(root, "workspace", "staged"), "base": "base", "exclude": ["pkg/a.py"], "files": ALL}, h, staged)
staged_dir = os.path.join(root, "workspace", "staged")
by = lambda key: [p for _, p in sorted((key(os.stat(os.path.join(staged_dir, p))), p) for p in ALL)]
result["inode_order"] = by(lambda st: st.st_ino)
result["ctime_order"] = by(lambda st: st.st_ctime_ns)
result["all"] = ALL
result["staged"] = tree(os.path.join(root, "workspace", "staged"))
result["stage_left"] = os.path.exists(bases.STAGE_DIR)
h = held()
bases.materialize({"path": os.path.join(root, "workspace", "whole"), "base": "base", "exclude": ["pkg/a.py"], "files": ALL}, h, {})
whole_dir = os.path.join(root, "workspace", "whole")
result["whole_inode_order"] = [p for _, p in sorted((os.stat(os.path.join(whole_dir, p)).st_ino, p) for p in ALL)]
result["whole"] = tree(os.path.join(root, "workspace", "whole"))
# A stage that does not cover the instance's changes (README) is dropped: the whole work tree.
staged = {}
h = held()
bases.stage({"base": "base", "leave_out": ["pkg/b.py"], "files": ALL}, h, staged)
bases.materialize({"path": os.path.join(root, "workspace", "uncovered"), "base": "base", "exclude": ["README"], "files": [p for p in ALL if p != "README"]}, h, staged)
result["uncovered"] = tree(os.path.join(root, "workspace", "uncovered"))
result["uncovered_stage_left"] = os.path.exists(bases.STAGE_DIR)
# A file left out that the base does not hold (tar stops at it): the whole work tree instead.
staged = {}
h = held()
bases.stage({"base": "base", "leave_out": ["pkg/a.py", "pkg/b.py", "not-in-base.py"], "files": ALL}, h, staged)
result["odd_frame"] = bases.materialize({"path": os.path.join(root, "workspace", "odd"), "base": "base", "exclude": ["pkg/a.py"], "files": ALL}, h, staged)
result["odd"] = tree(os.path.join(root, "workspace", "odd"))
# Any other request drops a stage: drop_stage, as handle() calls it.
staged = {}
h = held()
bases.stage({"base": "base", "leave_out": []}, h, staged)
bases.drop_stage(staged)
result["dropped"] = os.path.exists(bases.STAGE_DIR)
print(json.dumps(result))
`;

const root = mkdtempSync(join(tmpdir(), 'hgym-stage-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const python = process.env.HGYM_PYTHON ?? 'python3';
const r = JSON.parse(execFileSync(python, ['-c', SCRIPT, EXECUTOR, root], { encoding: 'utf8' })) as Record<string, unknown>;

t.same(r.stage, ['README', 'pkg/__init__.py', 'pkg/sub/c.py'], 'the stage holds no file any instance changes (only empty placeholders)');
t.same(r.inode_order, r.all, "from the stage: inode numbers follow the paths, the changed file's too");
t.same(r.ctime_order, r.all, 'and so do status-change times');
t.same(r.whole_inode_order, r.all, 'laid out whole: the same');
t.same(r.staged, r.whole, 'finished from the stage: the workspace laid out whole, file for file');
t.match(r.staged_frame, { type: 'written', staged: true }, 'and it says so');
t.same(r.odd, r.whole, 'a left-out file the base does not hold: laid out whole all the same');
t.match(r.odd_frame, { type: 'written', staged: false });
const EMPTY = createHash('sha256').digest('hex');
t.equal((r.whole as Record<string, string>)['pkg/a.py'], EMPTY, "the instance's changed file is only a placeholder, its original never written (the archive writes its text)");
t.equal((r.staged as Record<string, string>)['pkg/a.py'], EMPTY, 'from the stage too');
t.ok('pkg/b.py' in (r.staged as object), 'a file the stage left out and this instance keeps is unpacked');
t.equal(r.stage_left, false, 'the stage became the workspace');
t.same(Object.keys(r.uncovered as object).sort(), ['pkg/__init__.py', 'pkg/a.py', 'pkg/b.py', 'pkg/sub/c.py'], 'a stage that does not cover the changes: the whole work tree but them (README, not in its files here)');
t.equal(r.uncovered_stage_left, false, 'and the stage is gone');
t.equal(r.dropped, false, 'drop_stage removes it');
