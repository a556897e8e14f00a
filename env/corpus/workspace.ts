/**
 * Workspaces: a snapshot with an instance's edits applied, as a fresh git repository with
 * one commit and no history: laid out from the snapshot's base in a sandbox that holds it (see
 * "Bases" below: only what differs is sent), else shipped as one gzipped tar archive.
 *
 * The archive is assembled in memory, never by copying the repository and running git: each
 * file of a snapshot is turned once into a compressed piece (its tar entry, deflate-segments.ts)
 * and a deflated pack entry (its git blob), and an instance's archive is those pieces with the
 * edited files' replaced, then `.git`: its index, refs, and one pack of the blobs, trees and
 * commit, all in one ordinary `.tar.gz` stream. A new instance of a
 * large repository thus costs the objects of the files it edits, not a copy and a `git add` of
 * every file. The original text of an edited file is never in the archive: not as a file, not
 * as an object.
 *
 * An instance's layouts, its file digests and its edited texts are cached on disk under
 * `<cacheDir>/<instance_id>/` when it is prepared, its archives there when first asked for; a
 * snapshot's pieces are kept in memory, the most recently used up to SNAPSHOT_CACHE_BYTES.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Header, Pax } from 'tar';
import type { Edit } from '../../schemas/tasks.js';
import type { PutOptions, Sandbox, StageSpec, WorkspaceLayout } from '../sandbox.js';
import type { WorkspaceBaseline } from '../tasks/changes.js';
import { applyEdits } from '../tasks/edits.js';
import { gzipOf, segment, type Segment } from './deflate-segments.js';
import { commitObject, gitObject, indexFile, packLayout, packObject, treeObjects, type GitObject, type PackedObject, type TrackedFile } from './git-objects.js';
import { sha256, type Snapshot } from './snapshot.js';
import { HgymError } from '../errors.js';


export interface PreparedWorkspace extends WorkspaceBaseline {
  /**
   * The workspace as one gzipped tar archive, what a reset copies into the sandbox; with
   * `git: false`, without `.git`, for a grader's copy (history there would hold the original).
   */
  archive(options?: { git: boolean }): Promise<Buffer>;
  /**
   * The same workspace laid out from its snapshot's base (see "Bases" below), for a sandbox
   * that holds that base: the base's name, the changed files and `.git`, and the pack's pieces.
   * Null for a workspace prepared before bases were.
   */
  layout(options?: { git: boolean }): Promise<WorkspaceLayout | null>;
}

/** Fixed identity and date: the same instance always gives the same commit. */
const EPOCH_S = Date.UTC(2000, 0, 1) / 1000;
const MTIME = new Date(EPOCH_S * 1000);
const AUTHOR = { name: 'hgym', email: 'hgym@localhost', time: EPOCH_S };
/**
 * git compares a file with the index by its mtime's seconds and size only (checkStat minimal, no
 * ctime): every file is unpacked with MTIME, as the index records it, and the index itself one
 * second later (an entry as new as the index would be re-read as racily clean). A first
 * `git status` then reads no file, where it would otherwise hash the whole repository (a
 * third of a CPU-second for sympy). What grading reads never depends on it: the executor's digest.
 */
const GIT_CONFIG = '[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n\tlogallrefupdates = true\n\tcheckStat = minimal\n\ttrustctime = false\n';
const INDEX_MTIME = new Date((EPOCH_S + 1) * 1000);
const SNAPSHOT_CACHE_BYTES = 256 * 2 ** 20;
const PART_CONCURRENCY = 8;
/** Two zero blocks end a tar archive. */
const END_OF_ARCHIVE = Buffer.alloc(1024);

/** One tar entry (a pax header first when the path needs one), its data padded to a block. */
function tarEntry(path: string, data: Buffer | null, mode: number, mtime = MTIME): Buffer {
  const fields = { path, mode, uid: 0, gid: 0, uname: '', gname: '', mtime, size: data?.length ?? 0, type: data === null ? ('Directory' as const) : ('File' as const) };
  const header = new Header(fields);
  const parts: Buffer[] = [];
  if (header.encode()) parts.push(new Pax(fields).encode());
  parts.push(header.block!);
  if (data && data.length > 0) parts.push(data, Buffer.alloc((512 - (data.length % 512)) % 512));
  return Buffer.concat(parts);
}

/** The tar entries of `entries`, compressed as a piece of the archive's gzip stream. */
function member(entries: Buffer[], stored = false): Promise<Segment> {
  return segment(Buffer.concat(entries), stored);
}

/** One file of a snapshot (or an edited one), ready to assemble. */
interface FilePart {
  tracked: TrackedFile;
  /** Its tar entry in the work tree, compressed. */
  worktree: Segment;
  /** Its blob as the pack holds it. */
  object: PackedObject;
}

async function filePart(path: string, data: Buffer, mode: number): Promise<FilePart> {
  const executable = (mode & 0o100) !== 0;
  const blob = gitObject('blob', data);
  const [worktree, object] = await Promise.all([member([tarEntry(`./${path}`, data, executable ? 0o755 : 0o644)]), packObject(blob)]);
  return { tracked: { path, executable, blob: blob.id, size: data.length }, worktree, object };
}

interface SnapshotParts {
  files: Map<string, FilePart>;
  /** The directories of the work tree, parents first. */
  dirs: string[];
  bytes: number;
}

/** Snapshots' parts by id, least recently used first. */
const snapshotParts = new Map<string, Promise<SnapshotParts>>();
const snapshotBytes = new Map<string, number>();

function partsOf(snapshot: Snapshot): Promise<SnapshotParts> {
  let pending = snapshotParts.get(snapshot.id);
  if (pending) {
    snapshotParts.delete(snapshot.id);
    snapshotParts.set(snapshot.id, pending);
    return pending;
  }
  pending = (async () => {
    const paths = [...snapshot.files.keys()];
    const made: FilePart[] = new Array<FilePart>(paths.length);
    // A few files at a time: compression runs on libuv's threads, off the event loop.
    let next = 0;
    await Promise.all(
      Array.from({ length: PART_CONCURRENCY }, async () => {
        for (let i = next++; i < paths.length; i = next++) {
          const full = join(snapshot.root, paths[i]!);
          const [data, info] = await Promise.all([readFile(full), stat(full)]);
          made[i] = await filePart(paths[i]!, data, info.mode);
        }
      }),
    );
    const files = new Map<string, FilePart>();
    const dirs = new Set<string>();
    let bytes = 0;
    for (const part of made) {
      const path = part.tracked.path;
      files.set(path, part);
      bytes += part.worktree.data.length + part.object.entry.length;
      for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) dirs.add(path.slice(0, i));
    }
    return { files, dirs: [...dirs].sort(), bytes };
  })();
  snapshotParts.set(snapshot.id, pending);
  pending.then(
    (parts) => {
      snapshotBytes.set(snapshot.id, parts.bytes);
      evictSnapshots();
    },
    () => snapshotParts.delete(snapshot.id),
  );
  return pending;
}

function evictSnapshots(): void {
  let total = [...snapshotBytes.values()].reduce((a, b) => a + b, 0);
  for (const id of snapshotParts.keys()) {
    if (total <= SNAPSHOT_CACHE_BYTES || snapshotParts.size <= 1) break;
    total -= snapshotBytes.get(id) ?? 0;
    snapshotBytes.delete(id);
    snapshotParts.delete(id);
  }
}

/** Builds a snapshot's parts ahead of its first instance (a server does it for its corpus at start). */
export async function warmSnapshot(snapshot: Snapshot): Promise<void> {
  await partsOf(snapshot);
}

/*
 * Bases. A snapshot's base is its work tree as a plain tar (`<name>.tar`) and the pack entries of
 * its files' blobs, concatenated in the snapshot's order (`<name>.objects`), written into a folder
 * that local engines mount in every sandbox (docker/container.ts), where only the executor can
 * read it (docker/executor/bases.py). A reset then sends a sandbox that holds the base only what
 * differs: the changed files, `.git`'s small files, and its pack as pieces (most of them ranges of
 * the base's objects). The name carries the snapshot's id and a digest of the objects, so a base
 * written by another build (another deflate) is another base, never a wrong one.
 */
interface BaseLayoutOf {
  name: string;
  /** Each file's pack entry in the base's objects, by the entry (as partsOf made it). */
  ranges: Map<PackedObject, [number, number]>;
}

const baseLayouts = new WeakMap<SnapshotParts, BaseLayoutOf>();

function baseLayoutOf(snapshotId: string, parts: SnapshotParts): BaseLayoutOf {
  let layout = baseLayouts.get(parts);
  if (!layout) {
    const ranges = new Map<PackedObject, [number, number]>();
    const digest = createHash('sha256');
    let offset = 0;
    for (const part of parts.files.values()) {
      ranges.set(part.object, [offset, part.object.entry.length]);
      digest.update(part.object.entry);
      offset += part.object.entry.length;
    }
    layout = { name: `${snapshotId.slice(0, 16)}-${digest.digest('hex').slice(0, 16)}`, ranges };
    baseLayouts.set(parts, layout);
  }
  return layout;
}

/**
 * Writes the snapshot's base into `dir` (once: a base already there is kept), readable by no one
 * but a process with the capability to read anything: the sandbox's executor before it becomes
 * the agent's user. Returns its name.
 */
export async function writeBase(snapshot: Snapshot, dir: string): Promise<string> {
  const parts = await partsOf(snapshot);
  const { name } = baseLayoutOf(snapshot.id, parts);
  if (existsSync(join(dir, `${name}.tar`)) && existsSync(join(dir, `${name}.objects`))) return name;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const entries = ['.', ...parts.dirs].map((d) => tarEntry(d === '.' ? './' : `./${d}/`, null, 0o755));
  for (const path of workTreeFiles(parts)) {
    entries.push(tarEntry(`./${path}`, await readFile(join(snapshot.root, path)), parts.files.get(path)!.tracked.executable ? 0o755 : 0o644));
  }
  entries.push(END_OF_ARCHIVE);
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  // The objects first: a base counts as there once its tar is.
  for (const [suffix, data] of [['objects', Buffer.concat([...parts.files.values()].map((f) => f.object.entry))], ['tar', Buffer.concat(entries)]] as const) {
    const temporary = join(dir, `.${name}.${suffix}.${tag}`);
    await writeFile(temporary, data, { mode: 0o000 });
    await chmod(temporary, 0o000);
    await rename(temporary, join(dir, `${name}.${suffix}`));
  }
  return name;
}

/**
 * A stage of the snapshot's base (StageSpec): its name, and the files of `changed` (every file
 * any instance of it changes) that it holds, which a stage leaves out so that their originals
 * are never written.
 */
export async function baseStage(snapshot: Snapshot, changed: Iterable<string>): Promise<StageSpec> {
  const parts = await partsOf(snapshot);
  return { base: baseLayoutOf(snapshot.id, parts).name, leaveOut: [...new Set(changed)].filter((path) => parts.files.has(path)).sort(), files: workTreeFiles(parts) };
}

const workTrees = new WeakMap<SnapshotParts, string[]>();

/** The work tree's files in the order the base's tar holds them (sorted), once per snapshot. */
function workTreeFiles(parts: SnapshotParts): string[] {
  let files = workTrees.get(parts);
  if (!files) workTrees.set(parts, (files = [...parts.files.keys()].sort()));
  return files;
}

/** Tree objects packed at most (a few kilobytes each): the trees of a few dozen repositories. */
const MAX_PACKED_TREES = 8192;
const packedTrees = new Map<string, Promise<PackedObject>>();

/**
 * A tree object packed, by its id: an instance changes a few files, so all its trees but those
 * on their paths are its snapshot's, the same for every instance of it (deflating them was most
 * of what preparing an instance cost). Oldest dropped first.
 */
function packTree(tree: GitObject): Promise<PackedObject> {
  const key = tree.id.toString('hex');
  let packed = packedTrees.get(key);
  if (!packed) {
    packed = packObject(tree);
    packedTrees.set(key, packed);
    if (packedTrees.size > MAX_PACKED_TREES) packedTrees.delete(packedTrees.keys().next().value!);
    packed.catch(() => packedTrees.delete(key));
  }
  return packed;
}

/** An instance's files (the snapshot's with its edited ones), `.git`'s small files, and its pack's layout. */
async function instanceParts(parts: SnapshotParts, edited: Map<string, string>) {
  const files = new Map(parts.files);
  for (const [path, text] of edited) {
    const mode = parts.files.get(path)!.tracked.executable ? 0o755 : 0o644;
    files.set(path, await filePart(path, Buffer.from(text), mode));
  }
  const tracked = [...files.values()].map((f) => f.tracked);
  const { root, trees } = treeObjects(tracked);
  const commit = commitObject(root, AUTHOR, 'workspace');
  const packed = packLayout([...[...files.values()].map((f) => f.object), ...(await Promise.all(trees.map(packTree))), await packObject(commit)]);
  const gitDirs = ['.git', '.git/objects', '.git/objects/pack', '.git/refs', '.git/refs/heads', '.git/refs/tags'];
  const gitFiles = await member([
    ...gitDirs.map((d) => tarEntry(`./${d}/`, null, 0o755)),
    tarEntry('./.git/HEAD', Buffer.from('ref: refs/heads/main\n'), 0o644),
    tarEntry('./.git/config', Buffer.from(GIT_CONFIG), 0o644),
    tarEntry('./.git/refs/heads/main', Buffer.from(`${commit.id.toString('hex')}\n`), 0o644),
    tarEntry('./.git/index', indexFile(tracked, EPOCH_S), 0o644, INDEX_MTIME),
    tarEntry(`./.git/objects/pack/${packed.name}.idx`, packed.idx, 0o444),
  ]);
  return { files, packed, gitFiles, end: await member([END_OF_ARCHIVE]) };
}

/** The instance's whole archive, with and without `.git` (for a sandbox that holds no base). */
async function assembleArchives(parts: SnapshotParts, edited: Map<string, string>): Promise<{ full: Buffer; gitless: Buffer }> {
  const { files, packed, gitFiles, end } = await instanceParts(parts, edited);
  const worktreeDirs = await member(['.', ...parts.dirs].map((d) => tarEntry(d === '.' ? './' : `./${d}/`, null, 0o755)));
  const worktree = [...files.values()].sort((a, b) => (a.tracked.path < b.tracked.path ? -1 : 1)).map((f) => f.worktree);
  // The pack's objects are deflated already.
  const packBytes = Buffer.concat([packed.header, ...packed.order.map((o) => o.entry), packed.checksum]);
  const pack = await member([tarEntry(`./.git/objects/pack/${packed.name}.pack`, packBytes, 0o444)], true);
  return {
    full: gzipOf([worktreeDirs, ...worktree, gitFiles, pack, end]),
    gitless: gzipOf([worktreeDirs, ...worktree, end]),
  };
}

/** The instance's workspace laid out from its snapshot's base: the changed files, `.git`'s small files, and the pack as pieces. */
async function assembleLayouts(snapshotId: string, parts: SnapshotParts, edited: Map<string, string>): Promise<{ layout: WorkspaceLayout; gitless: WorkspaceLayout }> {
  const { files, packed, gitFiles, end } = await instanceParts(parts, edited);
  const base = baseLayoutOf(snapshotId, parts);
  const changed = [...edited.keys()].sort().map((path) => files.get(path)!.worktree);
  const pieces: (string | [number, number])[] = [];
  let data: Buffer[] = [packed.header];
  const flush = (): void => {
    if (data.length > 0) pieces.push(Buffer.concat(data).toString('base64'));
    data = [];
  };
  for (const object of packed.order) {
    const range = base.ranges.get(object);
    const last = pieces.at(-1);
    if (!range) data.push(object.entry);
    else if (data.length === 0 && Array.isArray(last) && last[0] + last[1] === range[0]) last[1] += range[1];
    else {
      flush();
      pieces.push([range[0], range[1]]);
    }
  }
  flush();
  const common = { base: base.name, exclude: [...edited.keys()].sort(), files: workTreeFiles(parts), packPath: `.git/objects/pack/${packed.name}.pack` };
  return {
    layout: { ...common, archive: gzipOf([...changed, gitFiles, end]), pack: pieces, trailer: packed.checksum.toString('hex') },
    gitless: { ...common, archive: gzipOf([...changed, end]), pack: [], trailer: '' },
  };
}

/** A layout as cached on disk: the archive in base64. */
type StoredLayout = Omit<WorkspaceLayout, 'archive'> & { archive: string };

async function readLayout(path: string): Promise<WorkspaceLayout | null> {
  if (!existsSync(path)) return null;
  const stored = JSON.parse(await readFile(path, 'utf8')) as StoredLayout;
  return { ...stored, archive: Buffer.from(stored.archive, 'base64') };
}

/** Writes `data` to `dir/name` beside it first and renamed: a reader never sees half a file. */
async function put(dir: string, name: string, data: Buffer | string): Promise<void> {
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  await writeFile(join(dir, `${name}.${tag}`), data);
  await rename(join(dir, `${name}.${tag}`), join(dir, name));
}

function storedLayout(layout: WorkspaceLayout): string {
  return JSON.stringify({ ...layout, archive: layout.archive.toString('base64') });
}

function baseline(dir: string, snapshot: Snapshot, files: Map<string, string>, edited: Map<string, string>): PreparedWorkspace {
  // Made when first asked for (a sandbox without the base), then kept on disk.
  let archives: Promise<void> | null = null;
  const archive = async (options?: { git: boolean }): Promise<Buffer> => {
    const path = join(dir, options?.git === false ? ARCHIVE_NOGIT : ARCHIVE);
    if (!existsSync(path)) {
      archives ??= (async () => {
        const { full, gitless } = await assembleArchives(await partsOf(snapshot), edited);
        await put(dir, ARCHIVE_NOGIT, gitless);
        await put(dir, ARCHIVE, full);
      })().finally(() => (archives = null));
      await archives;
    }
    return readFile(path);
  };
  const layout = async (options?: { git: boolean }): Promise<WorkspaceLayout | null> => {
    const path = join(dir, options?.git === false ? LAYOUT_NOGIT : LAYOUT);
    if (!existsSync(path)) {
      // A workspace prepared before layouts were.
      const made = await assembleLayouts(snapshot.id, await partsOf(snapshot), edited);
      await put(dir, LAYOUT_NOGIT, storedLayout(made.gitless));
      await put(dir, LAYOUT, storedLayout(made.layout));
    }
    return readLayout(path);
  };
  return {
    files,
    archive,
    layout,
    read: async (path) => {
      const text = edited.get(path);
      if (text !== undefined) return text;
      if (!files.has(path)) return null;
      try {
        return await readFile(join(snapshot.root, path), 'utf8');
      } catch (error) {
        // The workspace is the server's own: a file of it that cannot be read is a failure of
        // the server, never the agent's "unreadable file" (which would grade 0).
        throw new HgymError('HGYM_ERR_GRADING_FAILED', [`the prepared workspace's ${path} cannot be read: ${(error as Error).message}`], { cause: error });
      }
    },
  };
}

/** How a workspace came into its sandbox: finished from a stage of its base, laid out from the base, or sent whole. */
export type WorkspaceFrom = 'stage' | 'base' | 'archive';

/**
 * Puts the workspace into `dir` of a sandbox: laid out from its base when the sandbox holds it
 * (a few small files sent; finished from its stage if the sandbox laid one out ahead), else
 * unpacked from the whole archive; says which. `git: false` leaves out `.git`; `shell: true`
 * starts the agent's shell in it (PutOptions).
 */
export async function putWorkspace(sandbox: Sandbox, dir: string, workspace: PreparedWorkspace, options: { git?: boolean } & PutOptions = {}): Promise<WorkspaceFrom> {
  const what = { git: options.git ?? true };
  const put = options.shell ? { shell: true } : undefined;
  const layout = sandbox.materialize && sandbox.holdsBase ? await workspace.layout(what) : null;
  if (layout && sandbox.holdsBase!(layout.base)) {
    return (await sandbox.materialize!(dir, layout, put)) ? 'stage' : 'base';
  }
  await sandbox.putArchive(dir, await workspace.archive(what), put);
  return 'archive';
}

/** Preparations under way in this process, by directory: concurrent callers share one. */
const preparing = new Map<string, Promise<PreparedWorkspace>>();

export function prepareWorkspace(instance: { instance_id: string; edits: readonly Edit[] }, snapshot: Snapshot, cacheDir: string): Promise<PreparedWorkspace> {
  const dir = join(cacheDir, instance.instance_id);
  let pending = preparing.get(dir);
  if (!pending) {
    pending = prepare(instance, snapshot, dir).finally(() => preparing.delete(dir));
    preparing.set(dir, pending);
  }
  return pending;
}

const FILES = 'workspace.files.json';
const EDITED = 'workspace.edited.json';
// v2: with the work tree's files (WorkspaceLayout.files); a layout cached without them is made again.
const LAYOUT = 'workspace.layout.v2.json';
const LAYOUT_NOGIT = 'workspace.nogit.layout.v2.json';
const ARCHIVE = 'workspace.tar.gz';
const ARCHIVE_NOGIT = 'workspace.nogit.tar.gz';

async function prepare(instance: { instance_id: string; edits: readonly Edit[] }, snapshot: Snapshot, dir: string): Promise<PreparedWorkspace> {
  const manifest = join(dir, FILES);
  if (existsSync(manifest)) {
    const files = new Map<string, string>(Object.entries(JSON.parse(await readFile(manifest, 'utf8')) as Record<string, string>));
    const edited = new Map<string, string>(Object.entries(JSON.parse(await readFile(join(dir, EDITED), 'utf8')) as Record<string, string>));
    return baseline(dir, snapshot, files, edited);
  }
  for (const e of instance.edits) if (!snapshot.files.has(e.file)) throw new Error(`edit of ${e.file}, which the snapshot does not hold`);
  const byFile = new Map<string, Edit[]>();
  for (const e of instance.edits) byFile.set(e.file, [...(byFile.get(e.file) ?? []), e]);
  const edited = new Map<string, string>();
  for (const [path, edits] of byFile) edited.set(path, applyEdits(await readFile(join(snapshot.root, path), 'utf8'), edits));
  const files = new Map(snapshot.files);
  for (const [path, text] of edited) files.set(path, sha256(text));

  // The layouts only: the whole archives are made when a sandbox without the base asks for one.
  const { layout, gitless } = await assembleLayouts(snapshot.id, await partsOf(snapshot), edited);
  // The manifest last: a crash leaves no half-made workspace.
  await mkdir(dir, { recursive: true });
  await put(dir, LAYOUT, storedLayout(layout));
  await put(dir, LAYOUT_NOGIT, storedLayout(gitless));
  await put(dir, EDITED, JSON.stringify(Object.fromEntries(edited)));
  await put(dir, FILES, JSON.stringify(Object.fromEntries(files)));
  return baseline(dir, snapshot, files, edited);
}
