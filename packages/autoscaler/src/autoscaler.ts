/**
 * The autoscaler process: revisions from the Kubernetes API (or the one-machine platform), metrics from the activators' websocket
 * reports and the queue-proxies' stats endpoints, one KPA decision per revision every 2 s (at once on a
 * poke), and each decision's scale and mode handed to the actuator. Mirrors the wiring of Knative's
 * `cmd/autoscaler/main.go` with the KPA reconciler's actuation (`pkg/reconciler/autoscaling/kpa`).
 */
import { createServer } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import {
  ListenError,
  type Logger,
  listenOn,
  type RunningComponent,
  serveMetrics,
  type WatchBackoff,
} from '@zerogate/core';
import type { Actuator, Mode, RevisionRef } from './actuator.js';
import { LocalActuator } from './actuator-local.js';
import { AutoscalerMetrics } from './autoscaler-metrics.js';
import { Collector } from './collector.js';
import type { AutoscalerProcessConfig } from './config.js';
import { type KpaDecision, SCALE_UNKNOWN } from './kpa.js';
import { HttpLocalPlatform, PlatformRevisionSource, type RevisionSource } from './local-platform-client.js';
import { PodDeletionCosts, scaleDownNear } from './pod-deletion-cost.js';
import { PodScraper } from './scraper.js';
import { StatServer } from './stat-server.js';

/** What {@link startAutoscaler} can be given besides the configuration, mostly for tests. */
export interface AutoscalerOptions {
  /**
   * The cluster to watch and act on, with the `kubernetes` actuator; default
   * `new KubeConfig().loadFromDefault()` (`KUBECONFIG`, in-cluster).
   */
  readonly kubeConfig?: KubeConfig;
  /** Acts on decisions; default a `KubernetesActuator` on the same cluster, or the platform's `LocalActuator`. */
  readonly actuator?: Actuator;
  /** Port of the queue-proxies' stats endpoint when a Pod is known by IP only; default 9090. */
  readonly statsPort?: number;
  /** Overrides the 2 s decision interval. */
  readonly tickIntervalMs?: number;
  /** Restart delays of failed watches (the revisions' and, on Kubernetes, the activators'). */
  readonly watchBackoff?: Partial<WatchBackoff>;
  /** Overrides the least time between two writes of one Pod's deletion cost (5 s). */
  readonly deletionCostIntervalMs?: number;
}

/** A running autoscaler. */
export interface RunningAutoscaler extends RunningComponent {
  readonly ports: { readonly stats: number; readonly metrics: number };
}

/**
 * Applies the latest wanted value of one setting, one call at a time, so an older value can never land
 * after a newer one. A failed call is logged and left for the next decision to retry (the actuator has
 * already retried transient errors itself).
 */
class LatestApplier<T> {
  private wanted: T | undefined;
  private applied: T | undefined;
  private running = false;

  constructor(
    /**
     * Applies `value`, or resolves false without applying it when `stillWanted`, asked after a slow step,
     * says a newer value superseded it.
     */
    private readonly apply: (value: T, stillWanted: () => boolean) => Promise<boolean | undefined>,
    private readonly same: (a: T, b: T) => boolean,
    private readonly onError: (err: unknown, value: T) => void,
  ) {}

  /** The value last applied successfully. */
  get current(): T | undefined {
    return this.applied;
  }

  set(value: T): void {
    this.wanted = value;
    if (!this.running) void this.run();
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      while (
        this.wanted !== undefined &&
        (this.applied === undefined || !this.same(this.wanted, this.applied))
      ) {
        const value = this.wanted;
        try {
          if ((await this.apply(value, () => this.wanted === value)) !== false) this.applied = value;
        } catch (err) {
          this.onError(err, value);
          return;
        }
      }
    } finally {
      this.running = false;
    }
  }
}

/**
 * What a revision's public endpoints are built from: the decided mode and also what that mode points at,
 * so that they are rewritten when Pods become ready or go, or the activators change, while the mode
 * stays (the SKS reconciler reruns on changes of the private endpoints and of the activator's).
 */
interface ModeWanted {
  readonly mode: Mode;
  readonly numActivators: number;
  /** The revision's ready Pods, as last reported: Serve points at them (Proxy too, with no activator). */
  readonly readyPods: readonly string[];
  /**
   * Which state of the activators' endpoints this reflects, counted up on each change; 0 where they
   * are not used, in Serve mode with ready Pods, so that a change there costs those revisions nothing.
   */
  readonly activators: number;
}

function sameModeWanted(x: ModeWanted, y: ModeWanted): boolean {
  return (
    x.mode === y.mode &&
    x.numActivators === y.numActivators &&
    x.activators === y.activators &&
    x.readyPods.length === y.readyPods.length &&
    x.readyPods.every((p, i) => p === y.readyPods[i])
  );
}

interface Actuation {
  readonly rev: RevisionRef;
  /** Ready Pod addresses, sorted, as the revision source last reported them. */
  readyPods: readonly string[];
  /** The last decision's mode, once there was one. */
  decided: { readonly mode: Mode; readonly numActivators: number } | undefined;
  readonly scale: LatestApplier<number>;
  readonly mode: LatestApplier<ModeWanted>;
}

/** Where revisions come from and what acts on decisions: the Kubernetes API, or the one-machine platform. */
interface Platform {
  readonly revisions: RevisionSource;
  readonly actuator: Actuator;
}

/** The one-machine platform's revision stream and actuator, over HTTP: the Kubernetes client is never loaded. */
function localPlatform(
  config: Readonly<AutoscalerProcessConfig>,
  logger: Logger,
  options: AutoscalerOptions,
): Platform {
  const backoff = options.watchBackoff ? { backoff: options.watchBackoff } : {};
  return {
    revisions: new PlatformRevisionSource({ baseUrl: config.platformUrl, logger, ...backoff }),
    actuator: options.actuator ?? new LocalActuator({ platform: new HttpLocalPlatform(config.platformUrl) }),
  };
}

/**
 * The cluster's revision informer and actuator. The Kubernetes client and everything built on it load
 * here, on first use, so the `local` autoscaler starts without them (faster, and tens of MiB smaller).
 */
async function kubernetesPlatform(
  config: Readonly<AutoscalerProcessConfig>,
  logger: Logger,
  options: AutoscalerOptions,
): Promise<Platform> {
  const [{ KubeConfig }, { KubernetesActuator }, { RevisionWatcher }] = await Promise.all([
    import('@kubernetes/client-node'),
    import('./actuator-kubernetes.js'),
    import('./revision-watcher.js'),
  ]);
  const kubeConfig =
    options.kubeConfig ??
    (() => {
      const kc = new KubeConfig();
      kc.loadFromDefault();
      return kc;
    })();
  const backoff = options.watchBackoff ? { backoff: options.watchBackoff } : {};
  return {
    revisions: new RevisionWatcher({ kubeConfig, logger, namespace: config.namespace, ...backoff }),
    actuator:
      options.actuator ??
      new KubernetesActuator({
        kubeConfig,
        logger,
        activatorNamespace: config.systemNamespace,
        ...(options.watchBackoff ? { watchBackoff: options.watchBackoff } : {}),
      }),
  };
}

/**
 * Starts the autoscaler: the revision watcher feeding the collector, the stat server (config.port) for
 * activators, the Pod scraper, the decision loop driving the actuator, and the metrics listener
 * (config.metricsPort). A port that cannot be bound rejects with a {@link ListenError} naming its variable.
 */
export async function startAutoscaler(
  config: Readonly<AutoscalerProcessConfig>,
  logger: Logger,
  options: AutoscalerOptions = {},
): Promise<RunningAutoscaler> {
  const platform =
    config.actuator === 'local'
      ? localPlatform(config, logger, options)
      : await kubernetesPlatform(config, logger, options);
  const actuator = platform.actuator;
  const metrics = new AutoscalerMetrics();
  const actuations = new Map<string, Actuation>();
  /** Counts the changes of the activators' endpoints the actuator reported. */
  let activatorsVersion = 0;
  // Where the actuator can annotate Pods (Kubernetes), their deletion costs follow their load while a
  // scale-down is near, so the ReplicaSet controller removes idle Pods first (docs/autoscaler.md §5.4).
  const setCost = actuator.setPodDeletionCost?.bind(actuator);
  const costs =
    setCost === undefined
      ? undefined
      : new PodDeletionCosts({
          patch: setCost,
          logger,
          ...(options.deletionCostIntervalMs !== undefined
            ? { minIntervalMs: options.deletionCostIntervalMs }
            : {}),
        });

  /** Asks for the revision's public endpoints as its last decision and its current sources say. */
  const wantMode = (a: Actuation): void => {
    if (a.decided === undefined) return;
    const { mode, numActivators } = a.decided;
    const usesActivators = mode === 'Proxy' || a.readyPods.length === 0;
    a.mode.set({
      mode,
      numActivators,
      readyPods: a.readyPods,
      activators: usesActivators ? activatorsVersion : 0,
    });
  };

  const actuation = (namespace: string, name: string): Actuation => {
    const key = `${namespace}/${name}`;
    let a = actuations.get(key);
    if (a === undefined) {
      const rev: RevisionRef = { namespace, name };
      a = {
        rev,
        readyPods: [],
        decided: undefined,
        scale: new LatestApplier<number>(
          async (desired, stillWanted) => {
            // Knative's scaler probes that the activator is in the path before dropping the last Pods, or
            // requests arriving meanwhile would find no one to take them. With no Pods up and none asked
            // for before (a revision already at zero when this autoscaler started) there is nothing to drop.
            const dropsPods = a !== undefined && (a.readyPods.length > 0 || (a.scale.current ?? 0) > 0);
            if (desired === 0 && dropsPods) {
              if (!(await actuator.activatorInPath(rev)))
                throw new Error('the activator is not in the path yet');
              // A request may have asked for Pods again during the probe.
              if (!stillWanted()) return false;
            }
            // Some Pods are to go: their deletion costs first, so the idle ones are chosen.
            if (costs !== undefined && desired > 0 && a !== undefined && desired < a.readyPods.length) {
              await costs.settle(rev);
              if (!stillWanted()) return false;
            }
            await actuator.scale(rev, desired);
            logger.info({ namespace, name, desiredPods: desired }, 'scaled revision');
            return true;
          },
          (x, y) => x === y,
          (err, desired) =>
            logger.warn(
              { err, namespace, name, desiredPods: desired },
              'scaling failed; retrying on the next decision',
            ),
        ),
        mode: new LatestApplier<ModeWanted>(
          async (m) => {
            const before = a?.mode.current;
            await actuator.setMode(rev, m.mode, m.numActivators);
            const fields = {
              namespace,
              name,
              mode: m.mode,
              numActivators: m.numActivators,
              readyPods: m.readyPods.length,
            };
            if (before?.mode === m.mode && before.numActivators === m.numActivators)
              logger.debug(fields, 'refreshed revision endpoints');
            else logger.info(fields, 'set revision mode');
            return true;
          },
          sameModeWanted,
          (err, m) =>
            logger.warn(
              { err, namespace, name, mode: m.mode, numActivators: m.numActivators },
              'setting the mode failed; retrying on the next decision',
            ),
        ),
      };
      actuations.set(key, a);
    }
    return a;
  };

  const onDecision = (namespace: string, name: string, decision: KpaDecision): void => {
    const a = actuation(namespace, name);
    metrics.record(namespace, name, decision, a.readyPods.length);
    costs?.setNear(a.rev, scaleDownNear(decision, a.readyPods.length));
    if (decision.desiredPods !== SCALE_UNKNOWN && decision.desiredPods >= 0)
      a.scale.set(decision.desiredPods);
    a.decided = { mode: decision.mode, numActivators: decision.numActivators };
    wantMode(a);
  };

  const collector = new Collector({
    onDecision,
    logger,
    cluster: config.cluster,
    ...(costs ? { scrapeAllPods: (namespace: string, name: string) => costs.near({ namespace, name }) } : {}),
    ...(options.tickIntervalMs !== undefined ? { tickIntervalMs: options.tickIntervalMs } : {}),
  });
  const scraper = new PodScraper({
    targets: () => collector.scrapeTargets(),
    onScrape: (s) => {
      collector.recordScrape(s);
      costs?.observe({ namespace: s.namespace, name: s.name }, s.pods);
    },
    logger,
    ...(options.statsPort !== undefined ? { statsPort: options.statsPort } : {}),
  });
  const statServer = new StatServer({
    onStat: (namespace, name, stat, at) => collector.recordStat(namespace, name, stat, at),
    logger,
    port: config.port,
    ...(config.bindAddress !== '' ? { host: config.bindAddress } : {}),
  });
  const watcher = platform.revisions;
  const metricsServer = createServer((_req, res) => void serveMetrics(metrics.registry, res, logger));

  const stopAll = async (): Promise<void> => {
    collector.stop();
    await Promise.allSettled([
      scraper.stop(),
      watcher.stop(),
      actuator.stop?.(),
      statServer.close(),
      new Promise<void>((resolve) => {
        if (!metricsServer.listening) return resolve();
        metricsServer.close(() => resolve());
        metricsServer.closeAllConnections();
      }),
    ]);
  };

  let ports: RunningAutoscaler['ports'];
  try {
    let stats: number;
    try {
      stats = await statServer.start();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new ListenError(
        `AUTOSCALER_PORT: cannot listen on ${config.bindAddress || '*'}:${config.port}: ${code}`,
        {
          cause: err,
        },
      );
    }
    const metricsPort = await listenOn(
      metricsServer,
      config.metricsPort,
      config.bindAddress,
      'AUTOSCALER_METRICS_PORT',
    );
    ports = { stats, metrics: metricsPort };
    await actuator.start?.(() => {
      activatorsVersion++;
      for (const a of actuations.values()) wantMode(a);
    });
    await watcher.start({
      upsert: (namespace, name, spec) => {
        try {
          collector.setRevision(namespace, name, spec);
        } catch (err) {
          logger.warn({ err, namespace, name }, 'ignoring revision with invalid autoscaling parameters');
          return;
        }
        const a = actuation(namespace, name);
        a.readyPods = spec.readyPods;
        // Serve mode must list the Pods now ready, not at the next mode change.
        wantMode(a);
        metrics.setReadyPods(namespace, name, spec.readyPods.length);
      },
      remove: (namespace, name) => {
        collector.removeRevision(namespace, name);
        costs?.remove({ namespace, name });
        actuations.delete(`${namespace}/${name}`);
        metrics.remove(namespace, name);
      },
    });
  } catch (err) {
    await stopAll();
    throw err;
  }
  collector.start();
  scraper.start();

  return {
    ports,
    shutdown: async () => {
      await stopAll();
      logger.flush();
    },
  };
}
