import { describe, expect, it } from 'vitest';
import {
  AutoscalingAnnotationError,
  DEFAULT_CLUSTER_AUTOSCALER_CONFIG,
  resolveRevisionAutoscaling,
} from './autoscaler-config.js';

const A = 'autoscaling.knative.dev/';

function rejectionOf(fn: () => unknown): AutoscalingAnnotationError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AutoscalingAnnotationError) return err;
    throw err;
  }
  throw new Error('expected an AutoscalingAnnotationError');
}

describe('resolveRevisionAutoscaling', () => {
  it("uses Knative's config-autoscaler defaults", () => {
    const c = resolveRevisionAutoscaling();
    expect(c).toMatchObject({
      metric: 'concurrency',
      totalValue: 100,
      targetUtilization: 0.7,
      targetBurstCapacity: 211,
      activatorCapacity: 100,
      stableWindowMs: 60_000,
      panicWindowMs: 6_000,
      panicThreshold: 2,
      maxScaleUpRate: 1000,
      maxScaleDownRate: 2,
      minScale: 0,
      maxScale: 0,
      initialScale: 1,
      activationScale: 1,
      scaleDownDelayMs: 0,
      scaleToZeroGracePeriodMs: 30_000,
      enableScaleToZero: true,
      reachable: true,
    });
    expect(c.targetValue).toBeCloseTo(70);
  });

  it('reads every annotation', () => {
    const c = resolveRevisionAutoscaling({
      annotations: {
        [`${A}min-scale`]: '2',
        [`${A}max-scale`]: '20',
        [`${A}initial-scale`]: '3',
        [`${A}activation-scale`]: '4',
        [`${A}target`]: '50',
        [`${A}target-utilization-percentage`]: '80',
        [`${A}target-burst-capacity`]: '0',
        [`${A}window`]: '2m',
        [`${A}panic-window-percentage`]: '20',
        [`${A}panic-threshold-percentage`]: '150',
        [`${A}scale-down-delay`]: '30s',
        'unrelated.example.com/x': 'ignored',
      },
    });
    expect(c).toMatchObject({
      minScale: 2,
      maxScale: 20,
      initialScale: 3,
      activationScale: 4,
      totalValue: 50,
      targetUtilization: 0.8,
      targetBurstCapacity: 0,
      stableWindowMs: 120_000,
      panicWindowMs: 24_000,
      panicThreshold: 1.5,
      scaleDownDelayMs: 30_000,
    });
    expect(c.targetValue).toBeCloseTo(40);
  });

  it('accepts the legacy camelCase keys, the kebab-case key winning when both are set', () => {
    expect(resolveRevisionAutoscaling({ annotations: { [`${A}minScale`]: '3' } }).minScale).toBe(3);
    const both = resolveRevisionAutoscaling({
      annotations: { [`${A}min-scale`]: '1', [`${A}minScale`]: '5' },
    });
    expect(both.minScale).toBe(1);
  });

  it('caps the target annotation at containerConcurrency', () => {
    const c = resolveRevisionAutoscaling({ annotations: { [`${A}target`]: '50' }, containerConcurrency: 10 });
    expect(c.totalValue).toBe(10);
    expect(c.targetValue).toBeCloseTo(7);
    expect(
      resolveRevisionAutoscaling({ annotations: { [`${A}target`]: '5' }, containerConcurrency: 10 })
        .totalValue,
    ).toBe(5);
  });

  it('uses containerConcurrency as the total, and the default 100 when it is 0', () => {
    expect(resolveRevisionAutoscaling({ containerConcurrency: 10 }).totalValue).toBe(10);
    expect(resolveRevisionAutoscaling({ containerConcurrency: 0 }).totalValue).toBe(100);
  });

  it('targets 200 RPS for the rps metric, ignoring containerConcurrency', () => {
    const c = resolveRevisionAutoscaling({
      annotations: { [`${A}metric`]: 'rps' },
      containerConcurrency: 10,
    });
    expect(c.metric).toBe('rps');
    expect(c.totalValue).toBe(200);
    expect(c.targetValue).toBeCloseTo(140);
  });

  it('never targets less than 0.01', () => {
    const c = resolveRevisionAutoscaling({
      annotations: { [`${A}target`]: '0.01', [`${A}target-utilization-percentage`]: '1' },
    });
    expect(c.targetValue).toBe(0.01);
  });

  it('names every invalid annotation in one error and offers the defaults for them as a fallback', () => {
    const err = rejectionOf(() =>
      resolveRevisionAutoscaling({
        annotations: {
          [`${A}min-scale`]: 'two',
          [`${A}target`]: '0',
          [`${A}window`]: '5s',
          [`${A}metric`]: 'cpu',
          [`${A}target-burst-capacity`]: '-2',
          [`${A}max-scale`]: '7',
        },
      }),
    );
    expect(err.code).toBe('INVALID_AUTOSCALING_ANNOTATION');
    expect(err.annotations).toEqual([
      `${A}min-scale`,
      `${A}metric`,
      `${A}target`,
      `${A}target-burst-capacity`,
      `${A}window`,
    ]);
    expect(err.message).toContain(`${A}window="5s"`);
    expect(err.fallback).toMatchObject({
      minScale: 0,
      maxScale: 7,
      totalValue: 100,
      stableWindowMs: 60_000,
      metric: 'concurrency',
    });
  });

  it.each([
    ['min-scale', '-1'],
    ['max-scale', '1.5'],
    ['initial-scale', '0'],
    ['activation-scale', '1'],
    ['target-utilization-percentage', '101'],
    ['panic-window-percentage', '0.5'],
    ['panic-threshold-percentage', '100'],
    ['window', '90.5s'],
    ['window', '2h'],
    ['scale-down-delay', '-1s'],
    ['scale-down-delay', '1500ms'],
    ['target', 'NaN'],
  ])('rejects %s=%s', (name, value) => {
    const err = rejectionOf(() => resolveRevisionAutoscaling({ annotations: { [`${A}${name}`]: value } }));
    expect(err.annotations).toEqual([`${A}${name}`]);
  });

  it('rejects max-scale below min-scale and an activation-scale outside the bounds', () => {
    expect(
      rejectionOf(() =>
        resolveRevisionAutoscaling({ annotations: { [`${A}min-scale`]: '5', [`${A}max-scale`]: '2' } }),
      ).annotations,
    ).toEqual([`${A}max-scale`]);
    expect(
      rejectionOf(() =>
        resolveRevisionAutoscaling({
          annotations: { [`${A}max-scale`]: '3', [`${A}activation-scale`]: '4' },
        }),
      ).annotations,
    ).toEqual([`${A}activation-scale`]);
  });

  it('allows initial-scale 0 only when the cluster does', () => {
    const cluster = { ...DEFAULT_CLUSTER_AUTOSCALER_CONFIG, allowZeroInitialScale: true };
    expect(
      resolveRevisionAutoscaling({ annotations: { [`${A}initial-scale`]: '0' }, cluster }).initialScale,
    ).toBe(0);
  });

  it('accepts target-burst-capacity -1', () => {
    expect(
      resolveRevisionAutoscaling({ annotations: { [`${A}target-burst-capacity`]: '-1' } })
        .targetBurstCapacity,
    ).toBe(-1);
  });

  it('rejects a containerConcurrency that is not a non-negative integer', () => {
    expect(() => resolveRevisionAutoscaling({ containerConcurrency: -1 })).toThrow(RangeError);
  });
});
