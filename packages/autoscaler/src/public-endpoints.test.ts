import type { V1Endpoint, V1EndpointSlice } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { RevisionRef } from './actuator.js';
import {
  chooseActivatorSubset,
  type DesiredSlice,
  MANAGED_BY,
  planPublicSlices,
  publicEndpoints,
  publicLabels,
  readyEndpoints,
  readyEndpointsKey,
} from './public-endpoints.js';

const NS = 'ns1';
const rev: RevisionRef = { namespace: NS, name: 'hello-00001' };
const READY = { ready: true, serving: true, terminating: false };

/** A ready Pod endpoint as Kubernetes' EndpointSlice controller writes it. */
function pod(ip: string, extra: Partial<V1Endpoint> = {}): V1Endpoint {
  return {
    addresses: [ip],
    conditions: READY,
    targetRef: { kind: 'Pod', namespace: NS, name: `pod-${ip}` },
    ...extra,
  };
}

/** The revision's private slice: the queue-proxy's ports and its metrics port. */
function privateSlice(
  endpoints: V1Endpoint[],
  addressType = 'IPv4',
  name = 'hello-00001-private-abcde',
): V1EndpointSlice {
  return {
    metadata: { name, namespace: NS, labels: { 'kubernetes.io/service-name': 'hello-00001-private' } },
    addressType,
    ports: [
      { name: 'https', port: 8112, protocol: 'TCP' },
      { name: 'http', port: 8012 },
      { name: 'http-autometric', port: 9090, protocol: 'TCP' },
    ],
    endpoints,
  };
}

/** The activator Service's slice: its serving ports and its profiling port. */
function activatorSlice(ips: string[]): V1EndpointSlice {
  return {
    metadata: { name: 'activator-service-xyz', namespace: 'knative-serving' },
    addressType: 'IPv4',
    ports: [
      { name: 'http', port: 8012, protocol: 'TCP' },
      { name: 'http2', port: 8013, protocol: 'TCP' },
      { name: 'https', port: 8112, protocol: 'TCP' },
      { name: 'http-profiling', port: 8008, protocol: 'TCP' },
    ],
    endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
  };
}

const QUEUE_PROXY_PORTS = [
  { name: 'http', port: 8012, protocol: 'TCP' },
  { name: 'https', port: 8112, protocol: 'TCP' },
];
const ACTIVATOR_PORTS = [
  { name: 'http', port: 8012, protocol: 'TCP' },
  { name: 'http2', port: 8013, protocol: 'TCP' },
  { name: 'https', port: 8112, protocol: 'TCP' },
];

/** An endpoint as a public slice carries it. */
function copied(ip: string, withPod = false) {
  return {
    addresses: [ip],
    conditions: READY,
    ...(withPod ? { targetRef: { kind: 'Pod', namespace: NS, name: `pod-${ip}` } } : {}),
  };
}

/** A public slice this autoscaler wrote earlier, as read back from the API server. */
function owned(
  desired: DesiredSlice,
  resourceVersion: string,
  labels: Record<string, string> = {},
): V1EndpointSlice {
  return {
    metadata: {
      name: desired.name,
      namespace: NS,
      resourceVersion,
      labels: { ...labels, ...publicLabels(rev) },
    },
    addressType: desired.addressType,
    ports: desired.ports,
    endpoints: desired.endpoints,
  };
}

describe('readyEndpoints', () => {
  it('copies ready endpoints once each, with the public ports only, skipping FQDN and our own slices', () => {
    const ours = {
      ...privateSlice([pod('10.0.0.9')]),
      metadata: { labels: { 'endpointslice.kubernetes.io/managed-by': MANAGED_BY } },
    };
    const fqdn = privateSlice([pod('pod.example')], 'FQDN');
    const ready = readyEndpoints([
      privateSlice([
        pod('10.0.0.2', { nodeName: 'node-a', zone: 'zone-1' }),
        pod('10.0.0.3', { conditions: { ready: false, serving: true } }),
        pod('10.0.0.4', { addresses: [] }),
        pod('10.0.0.1'),
      ]),
      // The same Pod, briefly listed in a second slice.
      privateSlice([pod('10.0.0.1')], 'IPv4', 'hello-00001-private-fghij'),
      ours,
      fqdn,
    ]);
    expect(ready).toEqual([
      {
        addressType: 'IPv4',
        ports: QUEUE_PROXY_PORTS,
        endpoint: { ...copied('10.0.0.2', true), nodeName: 'node-a', zone: 'zone-1' },
      },
      { addressType: 'IPv4', ports: QUEUE_PROXY_PORTS, endpoint: copied('10.0.0.1', true) },
    ]);
  });

  it("keys what a public slice would copy: a readiness flip changes the key, the slices' order does not", () => {
    const a = activatorSlice(['10.1.0.1']);
    const b = { ...activatorSlice(['10.1.0.2']), metadata: { name: 'activator-service-abc' } };
    const key = readyEndpointsKey([a, b]);
    expect(readyEndpointsKey([b, a])).toBe(key);
    const notReady = { ...b, endpoints: [{ addresses: ['10.1.0.2'], conditions: { ready: false } }] };
    expect(readyEndpointsKey([a, notReady])).not.toBe(key);
    expect(readyEndpointsKey([a, notReady])).toBe(readyEndpointsKey([a]));
    expect(readyEndpointsKey([])).toBe('');
  });
});

describe('chooseActivatorSubset', () => {
  it('subsets deterministically and spreads revisions over the activators', () => {
    const acts = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((x) => ({ endpoint: { addresses: [x] } }));
    const pick = (key: string) =>
      chooseActivatorSubset(acts, 3, key)
        .map((a) => a.endpoint.addresses[0])
        .sort();
    expect(pick('rev-a')).toEqual(pick('rev-a'));
    expect(pick('rev-a')).toEqual(
      chooseActivatorSubset([...acts].reverse(), 3, 'rev-a')
        .map((a) => a.endpoint.addresses[0])
        .sort(),
    );
    const used = new Set(Array.from({ length: 50 }, (_, i) => pick(`rev-${i}`)).flat());
    expect(used.size).toBe(8);
    // 0, or at least as many as there are, means all.
    expect(chooseActivatorSubset(acts, 0, 'rev-a')).toHaveLength(8);
    expect(chooseActivatorSubset(acts, 8, 'rev-a')).toHaveLength(8);
  });
});

describe('publicEndpoints', () => {
  const pods = [
    privateSlice([pod('10.0.0.2'), pod('10.0.0.1'), pod('10.0.0.3', { conditions: { ready: false } })]),
  ];
  const activators = [activatorSlice(['10.1.0.2', '10.1.0.1', '10.1.0.3'])];

  it('gives Serve the ready Pod IPs with the queue-proxy ports, ready, in one slice named for the revision', () => {
    expect(publicEndpoints(rev, 'Serve', 0, pods, activators)).toEqual({
      effective: 'Serve',
      slices: [
        {
          name: 'hello-00001-ipv4',
          addressType: 'IPv4',
          ports: QUEUE_PROXY_PORTS,
          endpoints: [copied('10.0.0.1', true), copied('10.0.0.2', true)],
        },
      ],
    });
  });

  it("gives Proxy the activators' IPs with their serving ports, in the same slice", () => {
    expect(publicEndpoints(rev, 'Proxy', 0, pods, activators)).toEqual({
      effective: 'Proxy',
      slices: [
        {
          name: 'hello-00001-ipv4',
          addressType: 'IPv4',
          ports: ACTIVATOR_PORTS,
          endpoints: [copied('10.1.0.1'), copied('10.1.0.2'), copied('10.1.0.3')],
        },
      ],
    });
    // A subset: the same two every time.
    const two = publicEndpoints(rev, 'Proxy', 2, pods, activators).slices[0]?.endpoints;
    expect(two).toHaveLength(2);
    expect(publicEndpoints(rev, 'Proxy', 2, pods, [...activators].reverse()).slices[0]?.endpoints).toEqual(
      two,
    );
  });

  it('falls back to Proxy without a ready Pod, to Serve without an activator, and is empty without either', () => {
    expect(publicEndpoints(rev, 'Serve', 0, [], activators).effective).toBe('Proxy');
    expect(publicEndpoints(rev, 'Proxy', 0, pods, []).effective).toBe('Serve');
    expect(publicEndpoints(rev, 'Proxy', 0, pods, []).slices[0]?.ports).toEqual(QUEUE_PROXY_PORTS);
    expect(publicEndpoints(rev, 'Serve', 0, [], [])).toEqual({ effective: 'Serve', slices: [] });
  });

  it('writes one slice per address family, and a hashed name for a second port list of a family', () => {
    const dual = [
      privateSlice([pod('10.0.0.1')]),
      privateSlice([pod('fd00::1')], 'IPv6', 'hello-00001-private-v6'),
      {
        ...privateSlice([pod('10.0.0.2')], 'IPv4', 'hello-00001-private-other'),
        ports: [{ name: 'http', port: 9000 }],
      },
    ];
    const names = publicEndpoints(rev, 'Serve', 0, dual, []).slices.map((s) => s.name);
    expect(names).toHaveLength(3);
    expect(names).toContain('hello-00001-ipv4');
    expect(names).toContain('hello-00001-ipv6');
    expect(names.find((n) => n !== 'hello-00001-ipv4' && n !== 'hello-00001-ipv6')).toMatch(
      /^hello-00001-ipv4-[0-9a-f]{8}$/,
    );
  });
});

describe('planPublicSlices', () => {
  const serve = publicEndpoints(rev, 'Serve', 0, [privateSlice([pod('10.0.0.1')])], []).slices;
  const proxy = publicEndpoints(rev, 'Proxy', 0, [], [activatorSlice(['10.1.0.1'])]).slices;

  it('creates what does not exist, labelled as ours', () => {
    expect(planPublicSlices(rev, serve, [])).toEqual({
      writes: [
        {
          op: 'create',
          body: {
            apiVersion: 'discovery.k8s.io/v1',
            kind: 'EndpointSlice',
            metadata: { name: 'hello-00001-ipv4', namespace: NS, labels: publicLabels(rev) },
            addressType: 'IPv4',
            ports: QUEUE_PROXY_PORTS,
            endpoints: [copied('10.0.0.1', true)],
          },
        },
      ],
      deletions: [],
    });
  });

  it('writes nothing when the owned slices already say the same', () => {
    expect(planPublicSlices(rev, serve, [owned(serve[0]!, '7')])).toEqual({ writes: [], deletions: [] });
  });

  it('replaces a slice that differs on its read version, keeping labels others added', () => {
    const plan = planPublicSlices(rev, proxy, [owned(serve[0]!, '7', { team: 'a' })]);
    expect(plan.deletions).toEqual([]);
    expect(plan.writes).toHaveLength(1);
    expect(plan.writes[0]?.op).toBe('replace');
    expect(plan.writes[0]?.body.metadata).toEqual({
      name: 'hello-00001-ipv4',
      namespace: NS,
      resourceVersion: '7',
      labels: { team: 'a', ...publicLabels(rev) },
    });
    expect(plan.writes[0]?.body.endpoints).toEqual([copied('10.1.0.1')]);
  });

  it('replaces a slice edited behind its back: an extra port, a changed condition, a label taken off', () => {
    const extraPort = { ...owned(serve[0]!, '1'), ports: [...QUEUE_PROXY_PORTS, { name: 'debug', port: 1 }] };
    const notReady = {
      ...owned(serve[0]!, '2'),
      endpoints: [{ ...copied('10.0.0.1', true), conditions: { ...READY, ready: false } }],
    };
    const unlabelled = {
      ...owned(serve[0]!, '3'),
      metadata: { name: 'hello-00001-ipv4', resourceVersion: '3' },
    };
    for (const slice of [extraPort, notReady, unlabelled]) {
      expect(planPublicSlices(rev, serve, [slice]).writes.map((w) => w.op)).toEqual(['replace']);
    }
  });

  it('deletes owned slices no longer wanted, on their read version, after the writes', () => {
    const stale = {
      ...owned(serve[0]!, '9'),
      metadata: { ...owned(serve[0]!, '9').metadata, name: 'hello-00001-ipv6' },
    };
    const plan = planPublicSlices(rev, serve, [stale]);
    expect(plan.writes.map((w) => `${w.op} ${w.body.metadata?.name}`)).toEqual(['create hello-00001-ipv4']);
    expect(plan.deletions).toEqual([{ name: 'hello-00001-ipv6', resourceVersion: '9' }]);
  });

  it('keeps one slice with no endpoint when nothing is wanted: an owned one emptied, or a new one', () => {
    expect(planPublicSlices(rev, [], [])).toEqual({
      writes: [
        {
          op: 'create',
          body: {
            apiVersion: 'discovery.k8s.io/v1',
            kind: 'EndpointSlice',
            metadata: { name: 'hello-00001-ipv4', namespace: NS, labels: publicLabels(rev) },
            addressType: 'IPv4',
            ports: [],
            endpoints: [],
          },
        },
      ],
      deletions: [],
    });
    const v6 = {
      ...owned(serve[0]!, '4'),
      addressType: 'IPv6',
      metadata: { ...owned(serve[0]!, '4').metadata, name: 'hello-00001-ipv6' },
    };
    const plan = planPublicSlices(rev, [], [v6, owned(serve[0]!, '5')]);
    // The first by name is kept, with its ports and no endpoints; the other goes.
    expect(plan.writes).toHaveLength(1);
    expect(plan.writes[0]?.op).toBe('replace');
    expect(plan.writes[0]?.body).toMatchObject({
      metadata: { name: 'hello-00001-ipv4', resourceVersion: '5' },
      addressType: 'IPv4',
      ports: QUEUE_PROXY_PORTS,
      endpoints: [],
    });
    expect(plan.deletions).toEqual([{ name: 'hello-00001-ipv6', resourceVersion: '4' }]);
    // Already empty: nothing to write.
    const empty = { ...owned(serve[0]!, '6'), endpoints: [] };
    expect(planPublicSlices(rev, [], [empty])).toEqual({ writes: [], deletions: [] });
  });
});
