/**
 * The Docker adapter for repository environments (env/corpus/environment.ts): the sandbox
 * Python's version and site directory, and the image built FROM the sandbox image with the
 * packages pip installed on the host copied into that site directory. The build context is
 * only those files and a two-line Dockerfile: nothing runs in the build, nothing is fetched.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import Docker from 'dockerode';
import { pack } from 'tar-fs';
import { hgymError } from '../env/errors.js';
import { HARNESS_DISTRIBUTIONS, type EnvironmentSpec, type EnvironmentTools, type ImageBuilder, type TargetPython } from '../env/corpus/environment.js';
import { imageId, listImageFiles, runThrowaway } from './image-files.js';
import { translateDockerError } from './container.js';

const PROBE = [
  'import importlib.metadata as m, json, site, sys',
  'harness = {}',
  `for name in ${JSON.stringify([...HARNESS_DISTRIBUTIONS])}:`,
  '    try: harness[name] = m.version(name)',
  '    except m.PackageNotFoundError: pass',
  'print(json.dumps({"version": "%d.%d" % sys.version_info[:2], "siteDir": site.getsitepackages()[0], "harness": harness}))',
].join('\n');

/** The sandbox image's Python: the version pip must pick wheels for, and where they go. */
export async function imagePython(image: string, docker = new Docker()): Promise<TargetPython & { imageId: string }> {
  const id = await imageId(docker, image);
  const out = (await runThrowaway(docker, id, ['python3', '-I', '-c', PROBE], 'asking the Python version', 60_000)).toString('utf8');
  let answer: Partial<TargetPython>;
  try {
    answer = JSON.parse(out) as Partial<TargetPython>;
  } catch {
    answer = {};
  }
  const { version, siteDir, harness } = answer;
  if (!version || !siteDir?.startsWith('/') || !harness) throw hgymError('HGYM_ERR_INTERNAL', `${image} answered ${JSON.stringify(out)} for its Python`);
  return { version, siteDir, harness, imageId: id };
}

async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}

/** The image of this tag, when it was built for this environment FROM this sandbox image. */
async function existing(docker: Docker, spec: EnvironmentSpec): Promise<{ size: number } | null> {
  try {
    const info = (await docker.getImage(spec.image).inspect()) as { Size: number; Config?: { Labels?: Record<string, string> } };
    const labels = info.Config?.Labels ?? {};
    return labels['hgym.environment'] === spec.id && labels['hgym.base'] === spec.base ? { size: info.Size } : null;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return null;
    throw translateDockerError(err, spec.image);
  }
}

/** Whether the environment's image is there and up to date (built FROM the current sandbox image). */
export function environmentExists(docker = new Docker()): (spec: EnvironmentSpec) => Promise<boolean> {
  return async (spec) => (await existing(docker, spec)) !== null;
}

/** Whether an image of this name is there and labelled as the environment `id` (whatever it was built FROM). */
export async function environmentLabelled(image: string, id: string, docker = new Docker()): Promise<boolean> {
  try {
    const info = (await docker.getImage(image).inspect()) as { Config?: { Labels?: Record<string, string> } };
    return info.Config?.Labels?.['hgym.environment'] === id;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return false;
    throw translateDockerError(err, image);
  }
}

/** Builds environment images on one engine; an image already built for the id is kept. */
export function environmentBuilder(docker = new Docker()): ImageBuilder {
  return async (spec, site, target) => {
    const started = performance.now();
    const found = await existing(docker, spec);
    if (found) return { ...found, built: false, ms: 0 };
    if ((await folderBytes(site)) === 0) throw hgymError('HGYM_ERR_INTERNAL', `pip installed nothing into ${site}`);
    const dockerfile = `FROM ${spec.base}\nCOPY site/ ${target.siteDir}/\n`;
    // Root-owned and readable by everyone: the agent's user imports these, and cannot change them.
    const context = pack(join(site, '..'), {
      entries: ['site'],
      map: (header) => {
        header.uid = 0;
        header.gid = 0;
        if (header.type === 'directory') header.mode = 0o755;
        else if (header.type === 'file') header.mode = (header.mode ?? 0) & 0o111 ? 0o755 : 0o644;
        return header;
      },
      finalize: false,
      finish: (p) => {
        p.entry({ name: 'Dockerfile', mode: 0o644, uid: 0, gid: 0 }, dockerfile);
        p.finalize();
      },
    });
    try {
      const stream = await docker.buildImage(Readable.from(context), {
        t: spec.image,
        labels: { 'hgym.environment': spec.id, 'hgym.base': spec.base },
        rm: true,
        forcerm: true,
        networkmode: 'none',
      });
      const output = await new Promise<{ error?: string; errorDetail?: { message?: string } }[]>((resolve, reject) =>
        docker.modem.followProgress(stream, (err: Error | null, res: unknown[]) => (err ? reject(err) : resolve(res as never))),
      );
      const failed = output.find((line) => line.error);
      if (failed) throw hgymError('HGYM_ERR_INTERNAL', `building ${spec.image}: ${failed.errorDetail?.message ?? failed.error}`);
    } catch (err) {
      if ((err as { code?: string }).code?.startsWith('HGYM_ERR')) throw err;
      throw translateDockerError(err, spec.image);
    }
    const built = await existing(docker, spec);
    if (!built) throw hgymError('HGYM_ERR_INTERNAL', `building ${spec.image} left no image labelled with its environment`);
    return { size: built.size, built: true, ms: performance.now() - started };
  };
}

/** Everything making environments takes, for the sandbox image on the default engine. */
export async function environmentTools(image: string, imagesCacheDir: string, docker = new Docker()): Promise<EnvironmentTools> {
  const target = await imagePython(image, docker);
  return {
    base: target.imageId,
    target: { version: target.version, siteDir: target.siteDir, harness: target.harness },
    build: environmentBuilder(docker),
    list: (env) => listImageFiles(env, { docker, cacheDir: imagesCacheDir }),
  };
}
