/**
 * Git's on-disk formats, written directly: objects (blob, tree, commit), a pack of them with its
 * version 2 index, and a version 2 index of the work tree. A workspace's one-commit repository is assembled from these in memory, so that a new
 * instance costs the objects of its edited files and its trees, not a `git add` of the whole
 * snapshot. Object ids are SHA-1 over `<type> <size>\0<content>`, as git computes them.
 */
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { crc32, deflate } from 'node:zlib';

const deflateAsync = promisify(deflate);

export type ObjectType = 'blob' | 'tree' | 'commit';

export interface GitObject {
  type: ObjectType;
  /** The object id, 20 bytes: SHA-1 of `<type> <size>\0<content>`. */
  id: Buffer;
  content: Buffer;
}

export function gitObject(type: ObjectType, content: Buffer): GitObject {
  const id = createHash('sha1').update(`${type} ${content.length}\0`).update(content).digest();
  return { type, id, content };
}

const PACK_TYPES: Record<ObjectType, number> = { commit: 1, tree: 2, blob: 3 };

/** An object as a pack holds it: its id, its entry (type and size, then its deflated content), the entry's CRC-32. */
export interface PackedObject {
  id: Buffer;
  entry: Buffer;
  crc: number;
}

export async function packObject({ type, id, content }: GitObject): Promise<PackedObject> {
  // The size in 4 bits beside the type, then 7 bits a byte, least significant first.
  const head: number[] = [];
  let size = content.length;
  let byte = (PACK_TYPES[type] << 4) | (size & 0x0f);
  size = Math.floor(size / 16);
  while (size > 0) {
    head.push(byte | 0x80);
    byte = size & 0x7f;
    size = Math.floor(size / 128);
  }
  head.push(byte);
  const entry = Buffer.concat([Buffer.from(head), await deflateAsync(content)]);
  return { id, entry, crc: crc32(entry) };
}

/**
 * A pack of `objects` (no deltas) and its version 2 index, named as git names them (by the pack's
 * checksum). Objects with the same id are packed once; `order` is the objects as packed.
 */
export function packFiles(objects: readonly PackedObject[]): { name: string; pack: Buffer; idx: Buffer; order: PackedObject[] } {
  const layout = packLayout(objects);
  return { ...layout, pack: Buffer.concat([layout.header, ...layout.order.map((o) => o.entry), layout.checksum]) };
}

/**
 * What packFiles gives but the pack's bytes: its header, its objects in order, its checksum (the
 * trailer) and its index. A pack can then be written from pieces held elsewhere.
 */
export function packLayout(objects: readonly PackedObject[]): { name: string; header: Buffer; order: PackedObject[]; checksum: Buffer; idx: Buffer } {
  const unique = [...new Map(objects.map((o) => [o.id.toString('hex'), o])).values()];
  const header = Buffer.alloc(12);
  header.write('PACK', 0, 'latin1');
  header.writeUInt32BE(2, 4);
  header.writeUInt32BE(unique.length, 8);
  const offsets = new Map<PackedObject, number>();
  const hash = createHash('sha1').update(header);
  let offset = header.length;
  for (const o of unique) {
    offsets.set(o, offset);
    offset += o.entry.length;
    hash.update(o.entry);
  }
  if (offset >= 2 ** 31) throw new Error('a workspace pack of 2 GiB or more');
  const checksum = hash.digest();

  const sorted = [...unique].sort((a, b) => Buffer.compare(a.id, b.id));
  const fanout = Buffer.alloc(256 * 4);
  for (let byte = 0, i = 0; byte < 256; byte++) {
    while (i < sorted.length && sorted[i]!.id[0]! <= byte) i++;
    fanout.writeUInt32BE(i, byte * 4);
  }
  const crcs = Buffer.alloc(sorted.length * 4);
  const offs = Buffer.alloc(sorted.length * 4);
  sorted.forEach((o, i) => {
    crcs.writeUInt32BE(o.crc, i * 4);
    offs.writeUInt32BE(offsets.get(o)!, i * 4);
  });
  const idxBody = Buffer.concat([Buffer.from([0xff, 0x74, 0x4f, 0x63, 0, 0, 0, 2]), fanout, ...sorted.map((o) => o.id), crcs, offs, checksum]);
  const idx = Buffer.concat([idxBody, createHash('sha1').update(idxBody).digest()]);
  return { name: `pack-${checksum.toString('hex')}`, header, order: unique, checksum, idx };
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
