/**
 * A sandbox's direct channel: a unix socket on this host that its executor connects to once, at
 * its start, instead of speaking over the container's attached stdio. Frames then go straight
 * between the server and the executor; over the attach they pass through the engine's daemon
 * and the container's shim both ways, which on a busy machine cost more CPU per step than the
 * executor itself (docs/scaling.md). Only for an engine on this host (it mounts the folder).
 *
 * The socket is in a folder of its own, mounted read-only into the container, inside a folder
 * of mode 0700 (no other user of the host reaches it). The first connection is taken and the
 * socket removed at once: the executor connects before it starts anything (as it opens its
 * bases, docker/executor/bases.py), so no process of the agent's can be that connection, and
 * none can connect later. An executor that cannot connect (a server whose folders the engine
 * does not see, say) speaks over the attach as before, and the socket is removed once it says
 * ready there.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where a container sees its channel's folder, and the socket in it (the executor's HGYM_CHANNEL). */
export const CHANNEL_MOUNT = '/run/hgym';
export const CHANNEL_SOCKET = `${CHANNEL_MOUNT}/channel.sock`;

let root: string | null = null;

/** This process's folder of channels, made on first use (mode 0700) and removed when it exits. */
function channelRoot(): string {
  if (root === null) {
    const made = mkdtempSync(join(tmpdir(), 'hgym-channels-'));
    process.once('exit', () => rmSync(made, { recursive: true, force: true }));
    root = made;
  }
  return root;
}

export class ExecutorChannel {
  /** The first connection, or null if the channel was closed before any came. */
  readonly connected: Promise<Socket | null>;
  private resolveConnected!: (socket: Socket | null) => void;
  private closed = false;

  private constructor(
    /** The folder to mount at CHANNEL_MOUNT. */
    readonly dir: string,
    private readonly server: Server,
  ) {
    this.connected = new Promise((resolve) => (this.resolveConnected = resolve));
    server.once('connection', (socket) => {
      // An error before its connection listens (or on one nobody takes) must not end the
      // process; the connection's own listener sees it all the same (docker/protocol.ts).
      socket.on('error', () => {});
      this.resolveConnected(socket);
      this.close();
    });
    // A listener that fails (the folder removed under it) is a channel that never connects.
    server.on('error', () => this.close());
  }

  /** A listening channel in a new folder. */
  static async open(): Promise<ExecutorChannel> {
    const dir = await mkdtemp(join(channelRoot(), 'c-'));
    // Inside the container the folder is the mount's root: the agent's user must be able to enter it.
    await chmod(dir, 0o755);
    const server = createServer();
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(join(dir, 'channel.sock'), () => (server.off('error', reject), resolve()));
      });
      // The executor may run as the agent's user (no bases) or as root without DAC_OVERRIDE.
      await chmod(join(dir, 'channel.sock'), 0o666);
    } catch (err) {
      server.close();
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
    return new ExecutorChannel(dir, server);
  }

  /** Stops listening and removes the folder; a connection already taken stays open. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.server.close();
    rmSync(this.dir, { recursive: true, force: true });
    this.resolveConnected(null);
  }
}
