/**
 * The regular files of an image, by sha256: what env/corpus/image.ts compares snapshots
 * against. A throwaway container of the image, without network, hashes every file of its
 * root filesystem (mounts such as /proc, /sys and /dev are other filesystems and left out);
 * the listing is cached by image id, so a second setup reads it back in milliseconds.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import Docker from 'dockerode';
import { v4 as uuidv4 } from 'uuid';
import { hgymError, HgymError } from '../env/errors.js';
import { imageFilesOf, type ImageFile, type ImageFiles } from '../env/corpus/image.js';
import { removeContainer, translateDockerError } from './container.js';
import { ownerLabels } from './owner.js';

/** Files unreadable even with CAP_DAC_READ_SEARCH are unreadable to the agent too: skipped. */
const SCRIPT = String.raw`
import hashlib, os, stat, sys
out = sys.stdout.buffer
root = os.lstat('/').st_dev
def walk(d):
    try:
        entries = list(os.scandir(d))
    except OSError as err:
        sys.stderr.write('%s: %s\n' % (d, err))
        return
    for e in entries:
        try:
            st = e.stat(follow_symlinks=False)
        except OSError:
            continue
        if st.st_dev != root:
            continue
        if stat.S_ISDIR(st.st_mode):
            walk(e.path)
        elif stat.S_ISREG(st.st_mode):
            h = hashlib.sha256()
            try:
                with open(e.path, 'rb') as f:
                    for block in iter(lambda: f.read(1 << 20), b''):
                        h.update(block)
            except OSError as err:
                sys.stderr.write('%s: %s\n' % (e.path, err))
                continue
            out.write(b'%s %d %s\0' % (h.hexdigest().encode(), st.st_size, os.fsencode(e.path)))
walk('/')
`;

export interface ImageFilesOptions {
  docker?: Docker;
  /** Where listings are kept, one file per image id. */
  cacheDir: string;
  timeoutMs?: number;
}

/** Parses the script's output: `<sha256> <size> <path>` records, each ended by a NUL. */
export function parseListing(output: Buffer): ImageFile[] {
  const files: ImageFile[] = [];
  for (const record of output.toString('utf8').split('\0')) {
    if (record === '') continue;
    const m = /^([0-9a-f]{64}) (\d+) (\/.*)$/s.exec(record);
    if (!m) throw new Error(`unreadable record in an image listing: ${JSON.stringify(record.slice(0, 200))}`);
    files.push({ sha256: m[1]!, size: Number(m[2]), path: m[3]! });
  }
  return files;
}

/**
 * Runs `argv` once in a throwaway container of the image (root with only
 * CAP_DAC_READ_SEARCH, no network, read-only) and returns its standard output.
 */
export async function runThrowaway(docker: Docker, image: string, argv: string[], what: string, timeoutMs: number): Promise<Buffer> {
  let container: Docker.Container | undefined;
  let timer: NodeJS.Timeout | undefined;
  const stderrLines: string[] = [];
  try {
    container = await docker.createContainer({
      Image: image,
      Entrypoint: argv,
      Cmd: [],
      // Labelled like a sandbox, so a pool started after a crash here removes it.
      Labels: ownerLabels(`image-files-${uuidv4()}`, Date.now(), timeoutMs),
      User: '0:0',
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
      NetworkDisabled: true,
      HostConfig: {
        NetworkMode: 'none',
        // Root reads every file with this one capability; it changes nothing else.
        CapDrop: ['ALL'],
        CapAdd: ['DAC_READ_SEARCH'],
        SecurityOpt: ['no-new-privileges'],
        ReadonlyRootfs: true,
        Memory: 512 * 2 ** 20,
        PidsLimit: 64,
      },
    });
    const stream = await container.attach({ stream: true, stdout: true, stderr: true });
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const chunks: Buffer[] = [];
    stdout.on('data', (c: Buffer) => chunks.push(c));
    stderr.on('data', (c: Buffer) => stderrLines.push(c.toString('utf8')));
    docker.modem.demuxStream(stream, stdout, stderr);
    const ended = new Promise<void>((resolve) => stream.on('end', resolve));
    await container.start();
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(hgymError('HGYM_ERR_INTERNAL', `${what} of ${image} took longer than ${timeoutMs} ms`)), timeoutMs);
    });
    const [exit] = await Promise.race([Promise.all([container.wait() as Promise<{ StatusCode: number }>, ended]), timeout]);
    if (exit.StatusCode !== 0) {
      throw hgymError('HGYM_ERR_INTERNAL', `${what} of ${image} exited with status ${exit.StatusCode}: ${stderrLines.join('').slice(-2000)}`);
    }
    return Buffer.concat(chunks);
  } catch (err) {
    if (err instanceof HgymError) throw err;
    throw translateDockerError(err, image);
  } finally {
    clearTimeout(timer);
    if (container) await removeContainer(container, (line) => process.stderr.write(`hgym: ${line}\n`));
  }
}

async function runListing(docker: Docker, image: string, timeoutMs: number): Promise<ImageFile[]> {
  return parseListing(await runThrowaway(docker, image, ['python3', '-I', '-S', '-c', SCRIPT], 'listing the files', timeoutMs));
}

/** The engine's id of what an image name means now; HGYM_ERR_IMAGE_MISSING when it has none. */
export async function imageId(docker: Docker, image: string): Promise<string> {
  try {
    return ((await docker.getImage(image).inspect()) as { Id: string }).Id;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) throw hgymError('HGYM_ERR_IMAGE_MISSING', image);
    throw translateDockerError(err, image);
  }
}

/** The image's regular files, from the cache when this image id was listed before. */
export async function listImageFiles(image: string, options: ImageFilesOptions): Promise<ImageFiles> {
  const docker = options.docker ?? new Docker();
  const id = await imageId(docker, image);
  const cached = join(options.cacheDir, `${id.replace(/^sha256:/, '')}.json`);
  const previous = await readFile(cached, 'utf8').then((text) => (JSON.parse(text) as { files: ImageFile[] }).files, () => undefined);
  if (Array.isArray(previous)) return imageFilesOf(image, id, previous);
  const files = await runListing(docker, image, options.timeoutMs ?? 300_000);
  await mkdir(options.cacheDir, { recursive: true });
  const tmp = `${cached}.${randomBytes(4).toString('hex')}`;
  await writeFile(tmp, JSON.stringify({ image, id, files }));
  await rename(tmp, cached);
  return imageFilesOf(image, id, files);
}
