/**
 * One gzip stream from pieces compressed apart: each piece is raw deflate ended by a full flush
 * (no final block, no dictionary carried over), so pieces compressed once can be put together
 * in any order into a single deflate stream, as pigz does. The gzip trailer's CRC-32 is
 * combined from the pieces' own. A single stream, not one gzip member per piece: readers such
 * as Python's gzip module slow down with the number of members.
 */
import { promisify } from 'node:util';
import { constants, crc32, deflateRaw } from 'node:zlib';

const deflateRawAsync = promisify(deflateRaw);

export interface Segment {
  /** Raw deflate data, ended by a full flush. */
  data: Buffer;
  /** CRC-32 and length of what it decompresses to. */
  crc: number;
  length: number;
}

/** `stored` for data already compressed (a git pack): kept as stored blocks. */
export async function segment(plain: Buffer, stored = false): Promise<Segment> {
  const data = await deflateRawAsync(plain, { finishFlush: constants.Z_FULL_FLUSH, ...(stored ? { level: constants.Z_NO_COMPRESSION } : {}) });
  return { data, crc: crc32(plain), length: plain.length };
}

/** An empty final block, fixed Huffman codes: ends a deflate stream. */
const FINAL_BLOCK = Buffer.from([0x03, 0x00]);
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);

/** A gzip stream (RFC 1952) of the segments' data, one after another. */
export function gzipOf(segments: readonly Segment[]): Buffer {
  let crc = 0;
  let length = 0;
  for (const s of segments) {
    crc = crc32Combine(crc, s.crc, s.length);
    length += s.length;
  }
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE(length % 2 ** 32, 4);
  return Buffer.concat([GZIP_HEADER, ...segments.map((s) => s.data), FINAL_BLOCK, trailer]);
}

function gf2Times(matrix: Uint32Array, vector: number): number {
  let sum = 0;
  for (let i = 0, v = vector >>> 0; v !== 0; i++, v >>>= 1) if (v & 1) sum ^= matrix[i]!;
  return sum >>> 0;
}

function gf2Square(square: Uint32Array, matrix: Uint32Array): void {
  for (let n = 0; n < 32; n++) square[n] = gf2Times(matrix, matrix[n]!);
}

/**
 * The CRC-32 of A followed by B from crc(A), crc(B) and B's length (zlib's crc32_combine):
 * crc(A) is carried through len(B) zero bytes by squaring the one-zero-bit operator.
 */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  if (lengthB <= 0) return crcA >>> 0;
  const even = new Uint32Array(32);
  const odd = new Uint32Array(32);
  odd[0] = 0xedb88320;
  for (let n = 1, row = 1; n < 32; n++, row <<= 1) odd[n] = row;
  gf2Square(even, odd);
  gf2Square(odd, even);
  let crc = crcA >>> 0;
  let len = lengthB;
  for (;;) {
    gf2Square(even, odd);
    if (len % 2 === 1) crc = gf2Times(even, crc);
    len = Math.floor(len / 2);
    if (len === 0) break;
    gf2Square(odd, even);
    if (len % 2 === 1) crc = gf2Times(odd, crc);
    len = Math.floor(len / 2);
    if (len === 0) break;
  }
  return (crc ^ crcB) >>> 0;
}
