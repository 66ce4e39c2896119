/**
 * `cluster:up` and `cluster:down`: starts the control plane in the background (its processes outlive
 * this command) and prints the admin KUBECONFIG; stops it again by the PIDs it recorded.
 *
 * Usage: node packages/cluster/dist/cli.js up|down [--dir DIR]
 */
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ControlPlane, stopFromPidFile } from './control-plane.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { dir: { type: 'string', default: join(tmpdir(), 'zerogate-cluster') } },
});
const [command] = positionals;
const dir = values.dir;
const pidFile = join(dir, 'pids.json');

if (command === 'up') {
  if (existsSync(pidFile)) {
    console.error(`a control plane is recorded in ${dir}: run cluster:down first`);
    process.exit(1);
  }
  rmSync(dir, { recursive: true, force: true });
  try {
    const plane = await ControlPlane.start({ dir });
    plane.writePidFile();
    console.log(`control plane ready in ${plane.readyAfterMs} ms (start to /readyz) at ${plane.url}`);
    console.log(`logs: ${join(dir, 'logs')}`);
    console.log(`export KUBECONFIG=${plane.adminKubeconfig}`);
  } catch (err) {
    console.error((err as Error).message);
    process.exit(1);
  }
} else if (command === 'down') {
  if (!existsSync(pidFile)) {
    console.error(`no control plane recorded in ${dir}`);
    process.exit(1);
  }
  const stopped = await stopFromPidFile(pidFile);
  rmSync(dir, { recursive: true, force: true });
  console.log(`stopped ${stopped.join(', ')}`);
} else {
  console.error('usage: cli.js up|down [--dir DIR]');
  process.exit(2);
}
