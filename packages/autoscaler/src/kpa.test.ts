import { describe, expect, it } from 'vitest';
import {
  DEFAULT_CLUSTER_AUTOSCALER_CONFIG,
  type RevisionAutoscalingInput,
  resolveRevisionAutoscaling,
} from './autoscaler-config.js';
import { Kpa, type KpaDecision, type KpaOptions } from './kpa.js';

const A = 'autoscaling.knative.dev/';

/**
 * A fake cluster on a fake clock: every second it records the load (when a Pod is ready or
 * something is in flight), every 2 s it asks the KPA and scales; Pods are ready `podStart`
 * seconds after being asked for and are removed at once.
 */
class Sim {
  readonly kpa: Kpa;
  readonly decisions: KpaDecision[] = [];
  ready = 0;
  private starting: number[] = [];
  private s = 0;

  constructor(
    input: RevisionAutoscalingInput = {},
    private readonly podStart = 0,
    options: KpaOptions = {},
  ) {
    this.kpa = new Kpa(resolveRevisionAutoscaling(input), options);
    if (options.readyPodsAtStart !== undefined) this.ready = options.readyPodsAtStart;
    this.scaleTo(0, this.kpa.desiredPods);
  }

  /** Runs through second `until` (inclusive) with `load(s)` requests in flight. */
  run(until: number, load: (s: number) => number): this {
    for (; this.s <= until; this.s++) {
      const s = this.s;
      const still = this.starting.filter((at) => at > s);
      this.ready += this.starting.length - still.length;
      this.starting = still;
      const c = load(s);
      if (this.ready > 0 || c > 0) this.kpa.record(s * 1000, c);
      if (s % 2 === 0) {
        const d = this.kpa.decide(s * 1000, this.ready);
        this.decisions.push(d);
        this.scaleTo(s, d.desiredPods);
      }
    }
    return this;
  }

  /** Applies a decision made outside the tick loop (a poke). */
  apply(d: KpaDecision | undefined): KpaDecision | undefined {
    if (d !== undefined) this.scaleTo(d.timeMs / 1000, d.desiredPods);
    return d;
  }

  at(s: number): KpaDecision {
    const d = this.decisions.find((x) => x.timeMs === s * 1000);
    if (d === undefined) throw new Error(`no decision at ${s}s`);
    return d;
  }

  get last(): KpaDecision {
    return this.decisions[this.decisions.length - 1] as KpaDecision;
  }

  private scaleTo(s: number, desired: number): void {
    const have = this.ready + this.starting.length;
    for (let i = have; i < desired; i++) this.starting.push(s + this.podStart);
    let remove = Math.max(0, have - desired);
    const fromStarting = Math.min(remove, this.starting.length);
    this.starting.length -= fromStarting;
    remove -= fromStarting;
    this.ready -= remove;
  }
}

const steady = (c: number) => () => c;

describe('Kpa', () => {
  it('settles at 3 Pods under a steady load of 3× target (210 in flight, target 70)', () => {
    const sim = new Sim({}, 4).run(180, steady(210));
    const late = sim.decisions.filter((d) => d.timeMs >= 20_000);
    expect(late.every((d) => d.desiredPods === 3)).toBe(true);
    expect(sim.decisions.every((d) => d.desiredPods <= 3)).toBe(true);
    expect(sim.last).toMatchObject({
      desiredPods: 3,
      panic: false,
      stableConcurrency: 210,
      panicConcurrency: 210,
    });
    expect(sim.ready).toBe(3);
  });

  it('enters panic within one tick of a 10× burst and does not scale down until a stable window has passed', () => {
    const load = (s: number) => (s >= 120 && s < 140 ? 700 : 210);
    const sim = new Sim({}, 5).run(300, load);
    // The first tick sees one second of the burst in the 6 s panic window; the next one panics.
    expect(sim.at(120).panic).toBe(false);
    expect(sim.at(118)).toMatchObject({ desiredPods: 3, panic: false });
    expect(sim.at(122).panic).toBe(true);
    expect(sim.at(122).desiredPods).toBeGreaterThan(3);
    expect(Math.max(...sim.decisions.map((d) => d.desiredPods))).toBe(10);

    const panicStart = 122;
    let previous = 0;
    for (const d of sim.decisions.filter(
      (x) => x.timeMs >= panicStart * 1000 && x.timeMs <= (panicStart + 60) * 1000,
    )) {
      expect(d.panic).toBe(true);
      expect(d.desiredPods).toBeGreaterThanOrEqual(previous);
      previous = d.desiredPods;
    }
    const afterPanic = sim.decisions.filter((d) => d.timeMs >= panicStart * 1000);
    const firstDown = afterPanic.find(
      (d, i) => i > 0 && d.desiredPods < (afterPanic[i - 1] as KpaDecision).desiredPods,
    );
    if (firstDown === undefined) throw new Error('never scaled down');
    expect(firstDown.timeMs).toBeGreaterThan((panicStart + 60) * 1000);
    expect(firstDown.panic).toBe(false);
    // Back down at the steady load's 3 Pods once the burst leaves the stable window.
    expect(sim.last.desiredPods).toBe(3);
  });

  it('scales to zero only after the stable window and the grace period have passed since the load stopped', () => {
    const stop = 120;
    const sim = new Sim().run(260, (s) => (s < stop ? 210 : 0));
    const firstZero = sim.decisions.find((d) => d.desiredPods === 0) as KpaDecision;
    expect(firstZero.timeMs).toBeGreaterThanOrEqual((stop + 60 + 30) * 1000);
    expect(firstZero.timeMs).toBeLessThanOrEqual((stop + 60 + 30 + 4) * 1000);
    // Before that: the stable window still holds load, then the activator takes over while a Pod stays.
    expect(sim.at(stop + 58)).toMatchObject({ desiredPods: 1, state: 'active' });
    expect(sim.at(stop + 60)).toMatchObject({ desiredPods: 1, mode: 'Proxy', state: 'inactive', want: 0 });
    expect(sim.at(stop + 88)).toMatchObject({ desiredPods: 1, mode: 'Proxy', state: 'inactive' });
    expect(sim.last).toMatchObject({ desiredPods: 0, mode: 'Proxy', state: 'inactive' });
    expect(sim.ready).toBe(0);
  });

  it('asks for one Pod at once when poked at zero', () => {
    const sim = new Sim().run(260, (s) => (s < 120 ? 210 : 0));
    expect(sim.kpa.desiredPods).toBe(0);
    const poked = sim.apply(sim.kpa.poke(261_500, 0));
    expect(poked).toMatchObject({ desiredPods: 1, mode: 'Proxy', state: 'activating' });
    // A second request before the next tick needs no new decision.
    expect(sim.kpa.poke(261_700, 0)).toBeUndefined();
    sim.run(280, steady(1));
    expect(sim.last).toMatchObject({ desiredPods: 1, state: 'active' });
  });

  it('reactivates without losing its Pod when poked during the grace period', () => {
    const sim = new Sim().run(190, (s) => (s < 120 ? 210 : 0));
    expect(sim.at(190)).toMatchObject({ desiredPods: 1, state: 'inactive' });
    expect(sim.apply(sim.kpa.poke(191_000, sim.ready))).toMatchObject({ desiredPods: 1, state: 'active' });
  });

  it('jumps to activation-scale from zero', () => {
    const sim = new Sim({ annotations: { [`${A}activation-scale`]: '3' } }).run(30, steady(0));
    expect(sim.kpa.desiredPods).toBe(1);
    sim.run(130, steady(0));
    expect(sim.kpa.desiredPods).toBe(0);
    expect(sim.kpa.poke(131_000, 0)?.desiredPods).toBe(3);
  });

  describe('target-burst-capacity and the Proxy/Serve mode', () => {
    const settle = (tbc: string, load: number) =>
      new Sim({ annotations: { [`${A}target-burst-capacity`]: tbc } }).run(180, steady(load)).last;

    it('0: the activator is in the path only at zero', () => {
      const d = settle('0', 210);
      expect(d).toMatchObject({ desiredPods: 3, excessBurstCapacity: 0, mode: 'Serve', numActivators: 2 });
      const idle = new Sim({ annotations: { [`${A}target-burst-capacity`]: '0' } }).run(200, steady(0)).last;
      expect(idle).toMatchObject({ desiredPods: 0, mode: 'Proxy' });
    });

    it('211: Proxy until ready capacity covers load + 211, then Serve', () => {
      // 3 Pods × 100 − 211 − 210 < 0.
      expect(settle('211', 210)).toMatchObject({
        desiredPods: 3,
        excessBurstCapacity: -121,
        mode: 'Proxy',
        numActivators: 6,
      });
      // 10 Pods × 100 − 211 − 700 ≥ 0.
      expect(settle('211', 700)).toMatchObject({
        desiredPods: 10,
        excessBurstCapacity: 89,
        mode: 'Serve',
        numActivators: 13,
      });
    });

    it('-1: always Proxy', () => {
      expect(settle('-1', 210)).toMatchObject({ excessBurstCapacity: -1, mode: 'Proxy', numActivators: 3 });
      expect(settle('-1', 700)).toMatchObject({ desiredPods: 10, excessBurstCapacity: -1, mode: 'Proxy' });
    });
  });

  it('keeps within min-scale and max-scale', () => {
    const bounded = { annotations: { [`${A}min-scale`]: '2', [`${A}max-scale`]: '4' } };
    const sim = new Sim(bounded).run(100, steady(700));
    expect(Math.max(...sim.decisions.map((d) => d.desiredPods))).toBe(4);
    sim.run(400, steady(0));
    expect(sim.last).toMatchObject({ desiredPods: 2, state: 'active' });
  });

  it('starts a new revision at initial-scale and holds it until those Pods are ready', () => {
    const sim = new Sim({ annotations: { [`${A}initial-scale`]: '3' } }, 10).run(8, steady(0));
    expect(sim.decisions.every((d) => d.desiredPods === 3 && d.state === 'activating')).toBe(true);
    sim.run(12, steady(0));
    expect(sim.at(12)).toMatchObject({ state: 'active' });
    // Without traffic it then winds down at the scale-down rate.
    sim.run(20, steady(0));
    expect(sim.last.desiredPods).toBeLessThan(3);
  });

  it('delays scale-down by scale-down-delay', () => {
    const load = (s: number) => (s < 60 ? 350 : 70);
    const firstBelow5 = (input: RevisionAutoscalingInput) =>
      (
        new Sim(input)
          .run(300, load)
          .decisions.find((d) => d.timeMs > 60_000 && d.desiredPods < 5) as KpaDecision
      ).timeMs;
    const plain = firstBelow5({});
    const delayed = firstBelow5({ annotations: { [`${A}scale-down-delay`]: '30s' } });
    expect(delayed - plain).toBeGreaterThanOrEqual(28_000);
    expect(delayed - plain).toBeLessThanOrEqual(32_000);
  });

  it('idles at one Pod when scale to zero is disabled', () => {
    const cluster = { ...DEFAULT_CLUSTER_AUTOSCALER_CONFIG, enableScaleToZero: false };
    const sim = new Sim({ cluster }).run(300, (s) => (s < 30 ? 210 : 0));
    expect(sim.last).toMatchObject({ desiredPods: 1, state: 'active' });
  });

  it('scales on requests per second for the rps metric', () => {
    const kpa = new Kpa(resolveRevisionAutoscaling({ annotations: { [`${A}metric`]: 'rps' } }));
    for (let s = 0; s <= 60; s++) kpa.record(s * 1000, 1, 420);
    expect(kpa.decide(60_000, 3)).toMatchObject({ desiredPods: 3, stableConcurrency: 420, panic: false });
  });

  it('starts in panic after a restart with several Pods, so missing history does not scale it down', () => {
    const sim = new Sim({}, 0, { readyPodsAtStart: 5 }).run(40, steady(70));
    expect(sim.at(0)).toMatchObject({ desiredPods: 5, panic: true });
    expect(sim.at(40)).toMatchObject({ desiredPods: 5, panic: true });
    sim.run(120, steady(70));
    expect(sim.last).toMatchObject({ desiredPods: 1, panic: false });
  });

  it('limits scale-up to max-scale-up-rate and scale-down to max-scale-down-rate', () => {
    const cluster = { ...DEFAULT_CLUSTER_AUTOSCALER_CONFIG, maxScaleUpRate: 2 };
    const kpa = new Kpa(resolveRevisionAutoscaling({ cluster }), { readyPodsAtStart: 1 });
    kpa.record(0, 7000);
    expect(kpa.decide(0, 1).desiredPods).toBe(2);
    const down = new Kpa(resolveRevisionAutoscaling(), { readyPodsAtStart: 1 });
    down.record(0, 0);
    expect(down.decide(0, 9).recommendedPods).toBe(4);
  });
});
