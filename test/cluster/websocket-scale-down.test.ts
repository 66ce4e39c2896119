/**
 * A long websocket across the scale-down of its own Pod, on the real control plane with deploy/base
 * installed as deploy/README.md tells it (docs/queue-proxy.md §7.1, the termination grace period).
 *
 * The Pod's removal is a real scale-down: the Deployment's replicas set to 0, and the real ReplicaSet
 * controller deleting the Pod. The Deployment is not named `<revision>-deployment`, so the autoscaler
 * does not own its replicas (deploy/README.md: such a Deployment is served but never scaled) and does not
 * put them back; a revision the autoscaler owns would never be scaled to zero under an open websocket
 * (the KPA counts it as a request in flight), and it would delete idle Pods before this busy one.
 *
 * The node then stops the Pod as the kubelet does, with the injected queue-proxy as a native sidecar: the
 * app container's preStop hook `/wait-for-drain` starts the drain (the queue-proxy answers its readiness
 * probe 503 at once), the app gets SIGTERM once the drain completed, and the queue-proxy last. The app
 * stops listening on SIGTERM and exits once its connections ended, as an app should; the queue-proxy,
 * given the Pod's `terminationGracePeriodSeconds` (300) by the injector, keeps the websocket and the long
 * request running, and exits as soon as nothing is open.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KUBELET_PROBE, send, type TextResponse } from '../support/http.js';
import { ROOT } from '../support/processes.js';
import { closed, echo, echoEverySecond, openSocket } from '../support/websocket.js';
import {
  type ClusterPod,
  podsOf as clusterPods,
  componentsReady,
  containerLog,
  installStandalone,
  isReady,
  startCluster,
  type TestCluster,
  waitFor,
} from './support/cluster.js';

const NS = 'websocket-scale-down';
const REVISION = 'ws-00001';
/** Not `<revision>-deployment`: the autoscaler leaves its replicas alone. */
const DEPLOYMENT = `${REVISION}-operated`;
/** The image table maps this to the project's Node.js. */
const NODE_IMAGE = 'node:24.21.0-bookworm-slim';
/** The Pod's termination grace period: longer than the websocket lives after the Pod started terminating. */
const GRACE_SECONDS = 300;
/** How long the websocket exchanges messages after its Pod started terminating. */
const WEBSOCKET_SECONDS = 180;
/** How long the plain request started before the scale-down takes. */
const LONG_REQUEST_MS = 60_000;

/**
 * The app: `/?ms=N` answers `done` after N ms; a websocket echoes each message (the repository's `ws`,
 * required by its absolute path, which the container sees). On SIGTERM it stops listening and exits once
 * its connections ended.
 */
const APP = `
const http = require('node:http');
const { WebSocketServer } = require(${JSON.stringify(join(ROOT, 'node_modules/ws'))});
const server = http.createServer((q, s) =>
  setTimeout(() => s.end('done'), Number(new URL(q.url, 'http://app').searchParams.get('ms') ?? 0)));
const wss = new WebSocketServer({ noServer: true });
server.on('upgrade', (q, socket, head) =>
  wss.handleUpgrade(q, socket, head, (ws) => {
    console.log('websocket open');
    ws.on('message', (data, binary) => ws.send(data, { binary }));
    ws.on('close', (code) => console.log('websocket closed ' + code));
  }));
server.listen(process.env.PORT);
process.on('SIGTERM', () => {
  console.log('SIGTERM');
  server.close();
});
`;

let cluster: TestCluster;

type Pod = ClusterPod & { metadata: { deletionTimestamp?: string } };

const revisionPods = async () =>
  (await clusterPods(cluster, NS, `serving.knative.dev/revision=${REVISION}`)) as Pod[];

interface EndpointSlice {
  endpoints?: { addresses: string[]; conditions?: { ready?: boolean; terminating?: boolean } }[];
}

/** The conditions of `ip` in the revision's private EndpointSlices (those of the Pods). */
async function endpointConditions(ip: string) {
  const slices = await cluster.getJson<{ items: EndpointSlice[] }>([
    'endpointslices',
    '-n',
    NS,
    '-l',
    `kubernetes.io/service-name=${REVISION}-private`,
  ]);
  return slices.items.flatMap((s) => s.endpoints ?? []).find((e) => e.addresses.includes(ip))?.conditions;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  cluster = await startCluster({ crashBackoff: { initialMs: 1000, maxMs: 5000 } });
  await installStandalone(cluster);
  await cluster.kubectl(['create', 'namespace', NS]);
  const ready = await componentsReady(cluster);
  if (!Object.values(ready).every(Boolean)) throw new Error(`components not Ready: ${JSON.stringify(ready)}`);
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
}, 60_000);

describe('a websocket across the scale-down of its Pod, on a real control plane', () => {
  it(
    `stays open for ${WEBSOCKET_SECONDS} s of messages after its Pod started terminating (grace ${GRACE_SECONDS} s), closes cleanly, and the Pod then goes at once`,
    async () => {
      const deployment = {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: DEPLOYMENT, namespace: NS },
        spec: {
          replicas: 1,
          selector: { matchLabels: { 'serving.knative.dev/revision': REVISION } },
          template: {
            metadata: {
              labels: { 'serving.knative.dev/revision': REVISION, 'zerogate.dev/inject': 'enabled' },
              // Request timeouts far shorter than the websocket: none applies after its 101.
              annotations: {
                'zerogate.dev/timeout-seconds': '90',
                'zerogate.dev/response-start-timeout-seconds': '75',
                'zerogate.dev/idle-timeout-seconds': '75',
              },
            },
            spec: {
              terminationGracePeriodSeconds: GRACE_SECONDS,
              containers: [
                {
                  name: 'user-container',
                  image: NODE_IMAGE,
                  command: ['node', '-e', APP],
                  ports: [{ name: 'http1', containerPort: 8080 }],
                  // Taken over by the queue-proxy's own kubelet probe: checked every second, so that the
                  // Pod's Ready condition follows its queue-proxy within seconds.
                  readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1, failureThreshold: 1 },
                },
              ],
            },
          },
        },
      };
      await cluster.kubectl(['apply', '-f', '-'], { input: JSON.stringify(deployment) });
      let pod: Pod | undefined;
      const up = await waitFor(async () => {
        pod = (await revisionPods()).find((p) => isReady(p) && !p.metadata.deletionTimestamp);
        return pod !== undefined;
      }, 120_000);
      expect(up, 'a ready Pod').toBe(true);
      const { name } = pod!.metadata;
      const ip = pod!.status.podIP!;
      const qp = `${ip}:8012`;
      // The injector gave the queue-proxy the Pod's grace period.
      const spec = await cluster.getJson<{
        spec: { initContainers?: { name: string; env?: { name: string; value?: string }[] }[] };
      }>(['pod', name, '-n', NS]);
      const queueProxy = spec.spec.initContainers?.find((c) => c.name === 'queue-proxy');
      expect(queueProxy?.env?.find((e) => e.name === 'QUEUE_TERMINATION_GRACE_SECONDS')?.value).toBe(
        String(GRACE_SECONDS),
      );

      // Straight to the Pod's queue-proxy, past any choice of Pod.
      const ws = await openSocket(`ws://${qp}/ws`);
      const closing = closed(ws);
      expect(await echo(ws, 'before')).toBe('before');
      const long: Promise<TextResponse> = send(`http://${qp}/?ms=${LONG_REQUEST_MS}`, {
        signal: AbortSignal.timeout(LONG_REQUEST_MS + 120_000),
      });
      await sleep(500);

      // The scale-down: the ReplicaSet controller deletes the Pod.
      await cluster.kubectl(['scale', '-n', NS, `deployment/${DEPLOYMENT}`, '--replicas=0']);
      let terminatingAt = 0;
      const terminating = await waitFor(async () => {
        const p = (await revisionPods()).find((x) => x.metadata.name === name);
        if (!p?.metadata.deletionTimestamp) return false;
        terminatingAt = Date.now();
        return true;
      }, 30_000);
      expect(terminating, 'the Pod Terminating').toBe(true);
      // Not ready at once: its queue-proxy answers the kubelet's probe 503 (within the node's preStop
      // hook call), then the Pod's Ready condition and its endpoint follow, so nothing new arrives.
      expect(
        await waitFor(
          async () => (await send(`http://${qp}/`, { headers: KUBELET_PROBE })).status === 503,
          5_000,
        ),
        'the queue-proxy not ready',
      ).toBe(true);
      expect(Date.now() - terminatingAt).toBeLessThan(5_000);
      expect(
        await waitFor(async () => {
          const p = (await revisionPods()).find((x) => x.metadata.name === name);
          const endpoint = await endpointConditions(ip);
          return p !== undefined && !isReady(p) && endpoint?.ready !== true;
        }, 20_000),
        'the Pod not Ready, its endpoint not ready',
      ).toBe(true);

      const sent = await echoEverySecond(ws, terminatingAt, WEBSOCKET_SECONDS);
      // About one a second, less what the echoes took on a busy machine.
      expect(sent).toBeGreaterThan(WEBSOCKET_SECONDS * 0.75);
      const answer = await long;
      expect([answer.status, answer.body]).toEqual([200, 'done']);
      // The Pod is still there, terminating, its app alive (it got SIGTERM once the drain completed): the
      // websocket holds it, and its queue-proxy still reports not ready (the app finishing its websocket
      // is not taken for a restarted app container).
      const still = (await revisionPods()).find((x) => x.metadata.name === name);
      expect(still?.metadata.deletionTimestamp).toBeDefined();
      expect(containerLog(cluster, NS, name, 'user-container')).toContain('SIGTERM');
      expect((await send(`http://${qp}/`, { headers: KUBELET_PROBE })).status).toBe(503);

      ws.close(1000, 'done');
      const close = await closing;
      expect(close.code).toBe(1000);
      // Gone soon after, well before the grace period ends: the app and the queue-proxy exit as soon as
      // nothing is open.
      const gone = await waitFor(
        async () => !(await revisionPods()).some((x) => x.metadata.name === name),
        60_000,
      );
      expect(gone, 'the Pod removed').toBe(true);
      const goneAt = Date.now();
      expect(goneAt - close.at).toBeLessThan(15_000);
      expect(goneAt - terminatingAt).toBeLessThan((GRACE_SECONDS - 60) * 1000);
    },
    (WEBSOCKET_SECONDS + 240) * 1000,
  );
});
