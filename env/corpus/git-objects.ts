/**
 * Git's on-disk formats, written directly: loose objects (blob, tree, commit) and a version 2
 * index. A workspace's one-commit repository is assembled from these in memory, so that a new
 * instance costs the objects of its edited files and its trees, not a `git add` of the whole
 * snapshot. Object ids are SHA-1 over `<type> <size>\0<content>`, as git computes them.
 */
import { createHash } from 'node:crypto';

export type ObjectType = 'blob' | 'tree' | 'commit';

export interface GitObject {
  /** The object id, 20 bytes. */
  id: Buffer;
  /** `<type> <size>\0<content>`, what a loose object file holds (deflated). */
  raw: Buffer;
}

export function gitObject(type: ObjectType, content: Buffer): GitObject {
  const raw = Buffer.concat([Buffer.from(`${type} ${content.length}\0`), content]);
  return { id: createHash('sha1').update(raw).digest(), raw };
}

/** Where a loose object lives under `.git`. */
export function loosePath(id: Buffer): string {
  const hex = id.toString('hex');
  return `objects/${hex.slice(0, 2)}/${hex.slice(2)}`;
}

/** A tracked file: its path (`/`-separated), whether it is executable, and its blob id. */
export interface TrackedFile {
  path: string;
  executable: boolean;
  blob: Buffer;
  size: number;
}

/**
 * The tree objects of a set of files, the root's last. Entries are ordered as git orders them:
 * by name, a directory's name compared as if it ended with `/`.
 */
export function treeObjects(files: readonly TrackedFile[]): { root: Buffer; trees: GitObject[] } {
  interface Dir {
    files: Map<string, TrackedFile>;
    dirs: Map<string, Dir>;
  }
  const top: Dir = { files: new Map(), dirs: new Map() };
  for (const f of files) {
    const parts = f.path.split('/');
    let dir = top;
    for (const name of parts.slice(0, -1)) {
      let next = dir.dirs.get(name);
      if (!next) dir.dirs.set(name, (next = { files: new Map(), dirs: new Map() }));
      dir = next;
    }
    dir.files.set(parts.at(-1)!, f);
  }
  const trees: GitObject[] = [];
  const write = (dir: Dir): Buffer => {
    const entries: { key: string; mode: string; name: string; id: Buffer }[] = [];
    for (const [name, sub] of dir.dirs) entries.push({ key: `${name}/`, mode: '40000', name, id: write(sub) });
    for (const [name, f] of dir.files) entries.push({ key: name, mode: f.executable ? '100755' : '100644', name, id: f.blob });
    entries.sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
    const tree = gitObject('tree', Buffer.concat(entries.flatMap((e) => [Buffer.from(`${e.mode} ${e.name}\0`), e.id])));
    trees.push(tree);
    return tree.id;
  };
  const root = write(top);
  return { root, trees };
}

export interface Signature {
  name: string;
  email: string;
  /** Seconds since the epoch, UTC. */
  time: number;
}

export function commitObject(tree: Buffer, who: Signature, message: string): GitObject {
  const sig = `${who.name} <${who.email}> ${who.time} +0000`;
  return gitObject('commit', Buffer.from(`tree ${tree.toString('hex')}\nauthor ${sig}\ncommitter ${sig}\n\n${message}\n`));
}

/**
 * A version 2 index of `files`, as `git read-tree` leaves it: no stat data but the size and
 * the modification time, so git compares contents on its first look and finds them clean.
 */
export function indexFile(files: readonly TrackedFile[], mtime: number): Buffer {
  const sorted = [...files].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  const parts: Buffer[] = [];
  const header = Buffer.alloc(12);
  header.write('DIRC', 0, 'latin1');
  header.writeUInt32BE(2, 4);
  header.writeUInt32BE(sorted.length, 8);
  parts.push(header);
  for (const f of sorted) {
    const path = Buffer.from(f.path);
    // 62 bytes of fixed fields, the path, and 1 to 8 NULs to a multiple of 8.
    const length = Math.ceil((62 + path.length + 1) / 8) * 8;
    const entry = Buffer.alloc(length);
    entry.writeUInt32BE(mtime, 8);
    entry.writeUInt32BE(f.executable ? 0o100755 : 0o100644, 24);
    entry.writeUInt32BE(f.size >>> 0, 36);
    f.blob.copy(entry, 40);
    entry.writeUInt16BE(Math.min(path.length, 0xfff), 60);
    path.copy(entry, 62);
    parts.push(entry);
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([body, createHash('sha1').update(body).digest()]);
}
