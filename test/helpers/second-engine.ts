/**
 * A second Docker engine beside the first on this machine, for tests of one hgym server spread
 * over two engines. It is a dockerd of its own: its own data root (kept between runs, so its
 * images survive), exec root, pidfile, socket and containerd, and no networking (sandboxes run
 * with NetworkMode none). The engine belongs to this helper alone: `stop()` removes every
 * container on it.
 *
 * Both engines report the same `docker info` ID: dockerd 20.10 derives it from
 * /etc/docker/key.json and has no flag to move that file. Tell them apart by host (or
 * DockerRootDir), not by ID.
 *
 * Flags, for dockerd 20.10 (Debian's docker.io):
 * - no `--containerd`: dockerd starts a containerd of its own under the exec root. Sharing the
 *   first engine's would tie the two engines' lives together (that containerd is itself the
 *   first dockerd's child here, and is gone when the first engine restarts). A dockerd killed
 *   with SIGKILL takes its containerd with it (dockerd starts it with a parent-death signal).
 * - `--containerd-namespace`, `--containerd-plugins-namespace`: different from the first's
 *   `moby`, so that even a shared containerd would keep the two engines' containers apart.
 * - `--bridge=hgym-engine2 --iptables=false --ip6tables=false --ip-forward=false`: a bridge of
 *   its own, made here and never used (sandboxes have no network), and no change to the host's
 *   firewall or sysctls, which belong to the first engine. Not `--bridge=none`: with it, dockerd
 *   deletes the host's docker0 at start, the first engine's, whose image builds then fail.
 * - `--config-file` of its own: the first engine's /etc/docker/daemon.json (hosts, data-root)
 *   would conflict with these flags, and dockerd refuses to start on a conflict.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import Docker from 'dockerode';
import { docker as firstDocker } from './docker.js';

const DATA_DIR = '/var/lib/hgym-engine2';
const RUN_DIR = '/run/hgym-engine2';
const SOCKET = join(RUN_DIR, 'docker.sock');
const PIDFILE = join(RUN_DIR, 'dockerd.pid');
const EXEC_ROOT = join(RUN_DIR, 'exec');
const CONTAINERD_PIDFILE = join(EXEC_ROOT, 'containerd', 'containerd.pid');
const CONTAINERD_CONFIG = join(EXEC_ROOT, 'containerd', 'containerd.toml');
const CONTAINERD_SOCKET = join(EXEC_ROOT, 'containerd', 'containerd.sock');
const CONFIG_FILE = join(DATA_DIR, 'daemon.json');
const BRIDGE = 'hgym-engine2';
/** The bridge's address: dockerd takes a bridge it is given with its address. A link-local /30, never routed. */
const BRIDGE_ADDRESS = '169.254.222.1/30';
const LOG_FILE = join(DATA_DIR, 'dockerd.log');

const DOCKERD_ARGS = [
  '--config-file', CONFIG_FILE,
  '--data-root', join(DATA_DIR, 'data'),
  '--exec-root', EXEC_ROOT,
  '--pidfile', PIDFILE,
  '-H', `unix://${SOCKET}`,
  '--containerd-namespace', 'hgym-engine2',
  '--containerd-plugins-namespace', 'hgym-engine2-plugins',
  `--bridge=${BRIDGE}`, '--iptables=false', '--ip6tables=false', '--ip-forward=false',
];

const READY_MS = 60_000;
const READY_ATTEMPTS = 600;
const POLL_MS = 100;
const EXIT_MS = 30_000;

export interface SecondEngine extends AsyncDisposable {
  readonly socketPath: string;
  /** As a `--docker-host` value: `unix:///run/hgym-engine2/docker.sock`. */
  readonly host: string;
  readonly docker: Docker;
  /**
   * SIGKILLs the dockerd, with its containerd and shims: the socket then refuses, as an engine
   * that stopped answering. Its containers' processes linger until restart() or stop().
   */
  kill(): Promise<void>;
  /** Starts it again (after kill or stop) with the same configuration; resolves once it answers. */
  restart(): Promise<void>;
  /** Removes every container on it, then stops it cleanly. Idempotent. */
  stop(): Promise<void>;
}

export interface SecondEngineOptions {
  /** Images to have there, loaded from the first engine when missing or different (by id). Default: the sandbox image. */
  images?: string[];
  /** The first engine, where the images come from. Default: the tests' engine (DOCKER_HOST or the local socket). */
  first?: Docker;
}

/** Starts the second engine, or reuses one a previous run left running with the same flags. */
export async function startSecondEngine(options: SecondEngineOptions = {}): Promise<SecondEngine> {
  assertCanRun();
  const docker = new Docker({ socketPath: SOCKET });
  const running = livePid(PIDFILE, PIDFILE);
  // One with other flags is replaced; one with ours may still be starting (another test
  // process launched it), and is given the time a launch gets before it is replaced.
  if (running !== null && (!sameArgs(running) || !(await untilAnswers(() => (alive(running) ? null : 'exited'))))) {
    await terminate(running);
  }
  if (!(await answers())) await launch();
  for (const image of options.images ?? [process.env.HGYM_IMAGE ?? 'hgym/sandbox:latest']) {
    await syncImage(options.first ?? firstDocker, docker, image);
  }

  let stopped = false;
  const engine: SecondEngine = {
    socketPath: SOCKET,
    host: `unix://${SOCKET}`,
    docker,
    async kill() {
      const pid = livePid(PIDFILE, PIDFILE);
      if (pid !== null) {
        signal(pid, 'SIGKILL');
        await untilGone(pid, EXIT_MS);
      }
      // The engine's containerd and shims go too. A shim left alive would make the restarted
      // dockerd, restoring without live-restore, stop its container with the stop timeout (10 s
      // for a PID 1 that ignores SIGTERM) before it answers; with the shim gone it marks the
      // container exited and kills what is left of it at once.
      const rest = [livePid(CONTAINERD_PIDFILE, CONTAINERD_CONFIG), ...shims()].filter((p) => p !== null);
      for (const p of rest) signal(p, 'SIGKILL');
      for (const p of rest) await untilGone(p, EXIT_MS);
      // Gone is not yet refusing: a connection can still be taken while the socket is torn down.
      if (!(await untilRefuses())) throw new Error(`second engine: ${SOCKET} still takes connections ${EXIT_MS} ms after the kill`);
    },
    async restart() {
      const pid = livePid(PIDFILE, PIDFILE);
      if (pid !== null) await terminate(pid);
      await launch();
      stopped = false;
    },
    async stop() {
      if (stopped) return;
      // A killed engine still holds its containers in its data root: start it to remove them.
      if (!(await answers())) await launch();
      const left = await docker.listContainers({ all: true });
      await Promise.all(left.map((c) => docker.getContainer(c.Id).remove({ force: true, v: true })));
      const pid = livePid(PIDFILE, PIDFILE);
      if (pid !== null) await terminate(pid);
      stopped = true;
    },
    [Symbol.asyncDispose]() {
      return engine.stop();
    },
  };
  return engine;
}

function assertCanRun(): void {
  const probe = spawnSync('dockerd', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(`second engine: dockerd cannot run here (${probe.error?.message ?? probe.stderr.trim()}); install docker.io (node bin/hgym.js setup does)`);
  }
  if (process.getuid?.() !== 0) throw new Error('second engine: starting a dockerd needs root');
}

/** The engine's own bridge, made once (it outlives the engine, as its data root does). */
function ensureBridge(): void {
  if (existsSync(`/sys/class/net/${BRIDGE}`)) return;
  for (const args of [['link', 'add', BRIDGE, 'type', 'bridge'], ['addr', 'add', BRIDGE_ADDRESS, 'dev', BRIDGE], ['link', 'set', BRIDGE, 'up']]) {
    const done = spawnSync('ip', args, { encoding: 'utf8' });
    if (done.status !== 0) throw new Error(`second engine: ip ${args.join(' ')} failed: ${done.error?.message ?? done.stderr.trim()}`);
  }
}

/** Starts the dockerd and resolves once it answers; rejects with the tail of its log if it exits or stays silent. */
async function launch(): Promise<void> {
  removeStalePidfiles();
  ensureBridge();
  mkdirSync(RUN_DIR, { recursive: true });
  mkdirSync(DATA_DIR, { recursive: true });
  if (!existsSync(CONFIG_FILE)) writeFileSync(CONFIG_FILE, '{}\n');
  const log = openSync(LOG_FILE, 'w');
  // Detached, in a session of its own: it outlives this test process, and a later run reuses it.
  const child = spawn('dockerd', DOCKERD_ARGS, { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  let exited: string | null = null;
  child.on('error', (err) => (exited = err.message));
  child.on('exit', (code, signal) => (exited = `exited (${signal ?? code})`));
  child.unref();
  if (await untilAnswers(() => exited)) return;
  if (exited === null && child.pid !== undefined) {
    signal(child.pid, 'SIGKILL');
    await untilGone(child.pid, EXIT_MS);
  }
  throw new Error(`second engine: dockerd ${exited ?? `did not answer within ${READY_MS} ms`}; ${LOG_FILE} ends:\n${tail(LOG_FILE)}`);
}

/** Polls the socket until it answers (true), or the daemon has exited or READY_MS pass (false). */
async function untilAnswers(exited: () => string | null): Promise<boolean> {
  const deadline = Date.now() + READY_MS;
  for (let i = 0; i < READY_ATTEMPTS && Date.now() < deadline; i++) {
    if (await answers()) return true;
    if (exited() !== null) return false;
    await delay(POLL_MS);
  }
  return false;
}

/**
 * A pidfile naming a dead process, or one that is no longer ours, is removed: dockerd refuses to
 * start over its own, and takes a containerd pidfile naming a zombie for a live containerd. (A
 * SIGKILLed dockerd, and the containerd that dies with it, can stay zombies for a while when
 * PID 1 reaps slowly.)
 */
function removeStalePidfiles(): void {
  const own: Array<[string, string]> = [
    [PIDFILE, PIDFILE],
    [CONTAINERD_PIDFILE, CONTAINERD_CONFIG],
  ];
  for (const [file, marker] of own) {
    if (existsSync(file) && livePid(file, marker) === null) unlinkSync(file);
  }
}

/** The pid in `pidfile` if that process is alive (not a zombie) and its command line names `marker`. */
function livePid(pidfile: string, marker: string): number | null {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(pidfile, 'utf8').trim(), 10);
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return null;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(marker) ? pid : null;
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** This engine's containerd shims: their command line names its containerd's socket. */
function shims(): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const at = argv.indexOf('-address');
      if (at >= 0 && argv[at + 1] === CONTAINERD_SOCKET) found.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return found;
}

function sameArgs(pid: number): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(1, -1);
    return argv.join(' ') === DOCKERD_ARGS.join(' ');
  } catch {
    return false;
  }
}

/** SIGTERM (dockerd stops its containers and its containerd), then SIGKILL if it outstays EXIT_MS. */
async function terminate(pid: number): Promise<void> {
  signal(pid, 'SIGTERM');
  if (await untilGone(pid, EXIT_MS, false)) return;
  signal(pid, 'SIGKILL');
  await untilGone(pid, EXIT_MS);
}

/** Sends a signal; a process that exited meanwhile (ESRCH) is what the caller wanted anyway. */
function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

async function untilGone(pid: number, ms: number, mustGo = true): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (let i = 0; i < ms / POLL_MS && Date.now() < deadline; i++) {
    if (!alive(pid)) return true;
    await delay(POLL_MS);
  }
  if (mustGo) throw new Error(`second engine: process ${pid} did not exit within ${ms} ms`);
  return false;
}

/** Whether the engine's socket answers `GET /_ping` within a second. */
/** Whether connecting to the socket is refused (or it is gone), within a second. */
function refuses(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(SOCKET);
    socket.setTimeout(1_000, () => (socket.destroy(), resolve(false)));
    socket.on('connect', () => (socket.destroy(), resolve(false)));
    socket.on('error', () => resolve(true));
  });
}

async function untilRefuses(): Promise<boolean> {
  const deadline = Date.now() + EXIT_MS;
  while (Date.now() < deadline) {
    if (await refuses()) return true;
    await delay(POLL_MS);
  }
  return false;
}

function answers(): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath: SOCKET, path: '/_ping', timeout: 1_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

async function imageId(docker: Docker, image: string): Promise<string | null> {
  try {
    return (await docker.getImage(image).inspect()).Id;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return null;
    throw err;
  }
}

/** Loads `image` from the first engine unless the second has it with the same id (a rebuilt image is reloaded). */
async function syncImage(first: Docker, second: Docker, image: string): Promise<void> {
  const want = await imageId(first, image);
  if (want === null) throw new Error(`second engine: ${image} is not in the first engine to copy from (node bin/hgym.js setup builds the sandbox image)`);
  const had = await imageId(second, image);
  if (had === want) return;
  const progress = await second.loadImage(await first.getImage(image).get(), { quiet: true });
  const events = await new Promise<Array<{ error?: string }>>((resolve, reject) => {
    second.modem.followProgress(progress, (err: Error | null, out: Array<{ error?: string }>) => (err ? reject(err) : resolve(out)));
  });
  const now = await imageId(second, image);
  if (now !== want) {
    const why = events.find((e) => e.error)?.error ?? `it has id ${now}`;
    throw new Error(`second engine: loading ${image} (${want}) failed: ${why}`);
  }
  // An earlier build left untagged is dropped, so the kept data root does not grow with each rebuild.
  if (had !== null && (await second.getImage(had).inspect()).RepoTags?.length === 0) {
    try {
      await second.getImage(had).remove();
    } catch (err) {
      // 409: a container still uses it; stop() removes containers, and a later reload retries.
      if ((err as { statusCode?: number }).statusCode !== 409) throw err;
    }
  }
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-15).join('\n');
  } catch {
    return '(no log)';
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
