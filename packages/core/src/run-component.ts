import type { Env } from './config.js';
import { ConfigError } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { ListenError } from './serving-listener.js';

/** A started component: what it bound, and how it stops. */
export interface RunningComponent {
  readonly ports: Readonly<Record<string, number | undefined>>;
  shutdown(): Promise<void>;
}

/** How to run one component as a process. */
export interface ComponentMain<C> {
  /** Prefix of stderr lines, e.g. `queue-proxy`. */
  readonly name: string;
  /** Parses the environment; throws a ConfigError listing every bad variable. */
  readonly load: (env: Env) => C;
  readonly logLevel: (config: C) => string;
  /** Fields on every log line. */
  readonly logBase: (config: C) => Record<string, unknown>;
  readonly start: (config: C, logger: Logger) => Promise<RunningComponent>;
  /** The configuration as the startup line shows it. */
  readonly summary?: (config: C) => Record<string, unknown>;
}

/**
 * The whole life of a component process: bad configuration or a port that cannot be bound exits 1 with
 * one stderr line per problem; otherwise one `started` line with the configuration and ports, and on
 * SIGTERM or SIGINT a graceful shutdown, then exit 0.
 */
export async function runComponent<C>(main: ComponentMain<C>, env: Env = process.env): Promise<void> {
  let config: C;
  try {
    config = main.load(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const problem of err.problems) process.stderr.write(`${main.name}: ${problem}\n`);
    process.exit(1);
  }
  const logger = createLogger({ level: main.logLevel(config), base: main.logBase(config) });
  let component: RunningComponent;
  try {
    component = await main.start(config, logger);
  } catch (err) {
    if (!(err instanceof ListenError)) throw err;
    logger.fatal({ err }, err.message);
    process.stderr.write(`${main.name}: ${err.message}\n`);
    process.exit(1);
  }
  const stop = (signal: string) => {
    logger.info({ signal }, 'received signal');
    component.shutdown().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  // Only now: whoever waits for this line may signal at once, and must find the handlers in place.
  logger.info({ ...(main.summary ? main.summary(config) : config), ports: component.ports }, 'started');
}
