import { describe, expect, it } from 'vitest';
import { type PodFacts, podHealth, revisionFailing, revisionFailure } from './pod-health.js';

const running = (restartCount = 0): PodFacts => ({
  status: {
    phase: 'Running',
    containerStatuses: [
      { name: 'user-container', restartCount, state: { running: {} }, lastState: {} },
      { name: 'queue-proxy', restartCount: 0, state: { running: {} } },
    ],
  },
});

const crashLooping: PodFacts = {
  status: {
    phase: 'Running',
    containerStatuses: [
      {
        name: 'user-container',
        restartCount: 3,
        state: {
          waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container' },
        },
        lastState: { terminated: { exitCode: 1, reason: 'Error' } },
      },
      { name: 'queue-proxy', restartCount: 0, state: { running: {} } },
    ],
  },
};

describe('podHealth', () => {
  it('fails a container waiting in CrashLoopBackOff, naming its last exit code and restarts', () => {
    expect(podHealth(crashLooping)).toEqual({
      live: false,
      failing: 'user-container exited with code 1 (3 restarts): CrashLoopBackOff',
    });
  });

  it.each([
    ['ImagePullBackOff', 'Back-off pulling image "nope"'],
    ['ErrImagePull', 'rpc error: not found'],
    ['CreateContainerConfigError', 'secret "s" not found'],
  ])('fails a container waiting with %s, with the kubelet message', (reason, message) => {
    const pod: PodFacts = {
      status: {
        phase: 'Pending',
        containerStatuses: [
          { name: 'user-container', restartCount: 0, state: { waiting: { reason, message } } },
        ],
      },
    };
    expect(podHealth(pod)).toEqual({ live: false, failing: `user-container ${reason}: ${message}` });
  });

  it('fails a container terminated with a non-zero exit after restarts, not a first exit', () => {
    const terminated = (restartCount: number): PodFacts => ({
      status: {
        phase: 'Running',
        containerStatuses: [{ name: 'user-container', restartCount, state: { terminated: { exitCode: 2 } } }],
      },
    });
    expect(podHealth(terminated(1)).failing).toBe('user-container exited with code 2 (1 restart)');
    expect(podHealth(terminated(0))).toEqual({ live: true, failing: undefined });
  });

  it('fails an unschedulable Pod and a failed one, with their messages', () => {
    expect(
      podHealth({
        status: {
          phase: 'Pending',
          conditions: [
            {
              type: 'PodScheduled',
              status: 'False',
              reason: 'Unschedulable',
              message: '0/1 nodes are available: 1 Insufficient memory.',
            },
          ],
        },
      }),
    ).toEqual({ live: false, failing: 'Unschedulable: 0/1 nodes are available: 1 Insufficient memory.' });
    expect(podHealth({ status: { phase: 'Failed', reason: 'Evicted', message: 'low on memory' } })).toEqual({
      live: false,
      failing: 'Pod Evicted: low on memory',
    });
  });

  it('counts a starting or running Pod as live, a Pod being deleted as neither live nor failing', () => {
    expect(podHealth({ status: { phase: 'Pending' } })).toEqual({ live: true, failing: undefined });
    expect(
      podHealth({
        status: {
          phase: 'Pending',
          containerStatuses: [
            { name: 'user-container', state: { waiting: { reason: 'ContainerCreating' } } },
          ],
        },
      }),
    ).toEqual({ live: true, failing: undefined });
    // Running again after the back-off: live, whatever its restarts.
    expect(podHealth(running(4))).toEqual({ live: true, failing: undefined });
    expect(podHealth({ ...running(), metadata: { deletionTimestamp: '2026-12-07T00:00:00Z' } })).toEqual({
      live: false,
      failing: undefined,
    });
  });

  it('shortens a long message to one line', () => {
    const failing = podHealth({
      status: {
        phase: 'Pending',
        containerStatuses: [
          { name: 'c', state: { waiting: { reason: 'ErrImagePull', message: `a\n${'x'.repeat(500)}` } } },
        ],
      },
    }).failing!;
    expect(failing.length).toBeLessThan(220);
    expect(failing).not.toContain('\n');
  });
});

describe('revisionFailure', () => {
  it("is the Revision's Ready=False reason and message, and nothing otherwise", () => {
    expect(
      revisionFailure({
        conditions: [
          {
            type: 'Ready',
            status: 'False',
            reason: 'ProgressDeadlineExceeded',
            message: 'Initial scale was never achieved',
          },
        ],
      }),
    ).toBe('ProgressDeadlineExceeded: Initial scale was never achieved');
    expect(revisionFailure({ conditions: [{ type: 'Ready', status: 'False' }] })).toBe('not Ready');
    expect(revisionFailure({ conditions: [{ type: 'Ready', status: 'True' }] })).toBeUndefined();
    expect(
      revisionFailure({ conditions: [{ type: 'Ready', status: 'Unknown', reason: 'Deploying' }] }),
    ).toBeUndefined();
    expect(revisionFailure(undefined)).toBeUndefined();
    expect(revisionFailure({ conditions: 'nope' })).toBeUndefined();
  });
});

describe('revisionFailing', () => {
  const failing = (reason: string) => ({ live: false, failing: reason });
  const live = { live: true, failing: undefined };

  it('is failing while some Pod fails and none is live, naming the first Pod by name', () => {
    expect(
      revisionFailing(
        [
          ['pod/ns/b', failing('b failed')],
          ['pod/ns/a', failing('a failed')],
        ],
        undefined,
      ),
    ).toBe('a failed');
  });

  it('clears as soon as one Pod is live (running again, or a new one starting)', () => {
    expect(
      revisionFailing(
        [
          ['pod/ns/a', failing('a failed')],
          ['pod/ns/b', live],
        ],
        undefined,
      ),
    ).toBeUndefined();
    expect(revisionFailing([['pod/ns/b', live]], 'ProgressDeadlineExceeded')).toBeUndefined();
  });

  it("falls back on the Revision's reason when no Pod says why", () => {
    expect(revisionFailing([], 'ProgressDeadlineExceeded: x')).toBe('ProgressDeadlineExceeded: x');
    expect(revisionFailing([['pod/ns/a', { live: false, failing: undefined }]], undefined)).toBeUndefined();
  });
});
