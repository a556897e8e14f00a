/** `docker exec` of a command as the Docker CLI does it, through dockerode: create, start, read, inspect. */
import type Docker from 'dockerode';
import type { Duplex } from 'node:stream';

export async function dockerExec(container: Docker.Container, command: string): Promise<string> {
  const exec = await container.exec({ Cmd: ['bash', '-c', command], AttachStdout: true, AttachStderr: true, User: '1000:1000' });
  const stream = (await exec.start({ hijack: true, stdin: false })) as unknown as Duplex;
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  const info = await exec.inspect();
  if (info.ExitCode !== 0) throw new Error(`docker exec exited ${info.ExitCode}`);
  return Buffer.concat(chunks).subarray(8).toString('utf8');
}
