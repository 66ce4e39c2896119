/**
 * Follows Knative's ConfigMaps in the activator's namespace (`config-logging`, `config-observability`,
 * `config-tracing`) and applies what they say while the activator runs, as Knative's activator does:
 * docs/activator.md §2.1. Loaded only with the `kubernetes` endpoint source.
 */
import { CoreV1Api, type KubeConfig, type V1ConfigMap } from '@kubernetes/client-node';
import type { Logger, TracingConfig, WatchBackoff } from '@zerogate/core';
import {
  abortableRequests,
  apiStatusMessage,
  apiStatusOf,
  describeApiError,
  KeptInformer,
  resolveBackoff,
} from '@zerogate/core/kubernetes';
import {
  type ConfigMapData,
  type KnativeConfigMapNames,
  type Read,
  type RequestLogSetting,
  readLogLevel,
  readRequestLog,
  readTracing,
} from './knative-config-maps.js';

/** Options of {@link KnativeConfigWatch}. */
export interface KnativeConfigWatchOptions {
  readonly kubeConfig: KubeConfig;
  /** The activator's namespace (`SYSTEM_NAMESPACE`), where Knative keeps them. */
  readonly namespace: string;
  readonly names: KnativeConfigMapNames;
  readonly logger: Logger;
  /** Called with the level `config-logging` asks for, when it changes; absent: the level is not followed. */
  readonly onLogLevel?: (level: string) => void;
  /** Called with the tracing the ConfigMaps ask for, when it changes; absent: tracing is not followed. */
  readonly onTracing?: (config: TracingConfig) => void | Promise<void>;
  /** Called with `config-observability`'s request log, when it changes; absent: not followed. */
  readonly onRequestLog?: (setting: RequestLogSetting) => void;
  readonly backoff?: Partial<WatchBackoff>;
}

/** Logged once when the service account may not list ConfigMaps in the namespace. */
export const CONFIGMAPS_FORBIDDEN_MESSAGE =
  'listing ConfigMaps is forbidden (403); the log level and tracing stay as the environment sets them';

/**
 * An informer on the ConfigMaps of one namespace. The first list is applied as a whole before
 * {@link start} resolves, so the activator serves with it from its first request; afterwards each change
 * is applied as it comes. A ConfigMap that does not exist means the defaults (level `info`, tracing off).
 * A value that cannot be used is logged, naming its key, and the one in use is kept.
 */
export class KnativeConfigWatch {
  private readonly informer: KeptInformer<V1ConfigMap>;
  private readonly aborter = new AbortController();
  private readonly data = new Map<string, ConfigMapData>();
  private listed = false;
  private forbidden = false;
  /** The key of the value last applied, per setting. */
  private readonly applied = new Map<string, string>();
  /** The last problems logged per setting, so that an unchanged bad value is logged once. */
  private readonly reported = new Map<string, string>();
  private tracingChanges: Promise<void> = Promise.resolve();

  constructor(private readonly options: KnativeConfigWatchOptions) {
    const { kubeConfig, namespace, logger } = options;
    const api = kubeConfig.makeApiClient(CoreV1Api);
    const abortable = abortableRequests(this.aborter.signal);
    const list = () =>
      api.listNamespacedConfigMap({ namespace }, abortable).catch((err: unknown) => {
        if (apiStatusOf(err) === 403) this.forbid(err);
        throw err;
      });
    const watched = new Set(Object.values(options.names));
    this.informer = new KeptInformer<V1ConfigMap>(
      'configmaps',
      kubeConfig,
      `/api/v1/namespaces/${namespace}/configmaps`,
      list,
      undefined,
      resolveBackoff('KnativeConfigWatch', options.backoff),
      logger,
      (cm, deleted) => {
        const name = cm.metadata?.name ?? '';
        if (!watched.has(name)) return;
        this.data.set(name, deleted ? undefined : (cm.data ?? {}));
        if (this.listed) this.apply();
      },
    );
  }

  /** Lists the ConfigMaps and applies them; resolves then, or once the first attempt failed. */
  async start(): Promise<void> {
    await this.informer.start();
    this.listed = true;
    if (!this.forbidden) this.apply();
    await this.tracingChanges;
  }

  /** Stops watching; resolves once a tracing change under way has been applied. */
  async stop(): Promise<void> {
    this.aborter.abort();
    await this.informer.stop();
    await this.tracingChanges;
  }

  private forbid(err: unknown): void {
    if (this.forbidden) return;
    this.forbidden = true;
    // Not retried: it lasts until someone changes RBAC. Stopped before the informer sees the failure.
    void this.informer.stop();
    this.options.logger.info(
      {
        forbidden: `list configmaps in namespace ${this.options.namespace}`,
        apiMessage: apiStatusMessage(err) ?? describeApiError(err),
      },
      CONFIGMAPS_FORBIDDEN_MESSAGE,
    );
  }

  private apply(): void {
    const { names, onLogLevel, onTracing, onRequestLog, logger } = this.options;
    const logging = this.data.get(names.logging);
    const observability = this.data.get(names.observability);
    if (onLogLevel) {
      this.follow('log level', names.logging, readLogLevel(names.logging, logging), String, (level) => {
        onLogLevel(level);
        logger.info({ configMap: names.logging, logLevel: level }, 'log level set');
      });
    }
    if (onRequestLog) {
      const read = readRequestLog(names.observability, observability);
      this.follow(
        'request log',
        names.observability,
        read,
        (s) => s.source,
        (setting) => {
          onRequestLog(setting);
          logger.info(
            { configMap: names.observability, on: setting.template !== undefined },
            'request log set',
          );
        },
      );
    }
    if (onTracing) {
      const read = readTracing(names, this.data.get(names.tracing), observability);
      this.follow('tracing', `${names.observability}, ${names.tracing}`, read, JSON.stringify, (tracing) => {
        this.tracingChanges = this.tracingChanges
          .then(() => onTracing(tracing))
          .catch((err: unknown) => logger.error({ err }, 'failed to apply the tracing of a ConfigMap'));
      });
    }
  }

  /**
   * Hands `use` the value read when it differs (by `key`) from the one last applied; a value that cannot
   * be used is logged once per distinct problem and changes nothing.
   */
  private follow<T>(
    setting: string,
    from: string,
    read: Read<T>,
    key: (value: T) => string,
    use: (value: T) => void,
  ): void {
    if (!read.ok) {
      const problems = read.problems.join('; ');
      if (this.reported.get(setting) === problems) return;
      this.reported.set(setting, problems);
      this.options.logger.warn(
        { configMaps: from, problems: read.problems },
        `invalid ${setting} in ConfigMap; keeping the one in use`,
      );
      return;
    }
    this.reported.delete(setting);
    const k = key(read.value);
    if (this.applied.get(setting) === k) return;
    this.applied.set(setting, k);
    use(read.value);
  }
}
