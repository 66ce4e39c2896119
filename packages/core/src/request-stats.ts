/**
 * Time-weighted request concurrency and request counts over a reporting window, for the autoscaler.
 * Mirrors `knative.dev/networking/pkg/http/stats/request.go`: the concurrency integral Σ(c·Δt)/Σ(Δt) is
 * advanced at every arrival and departure, and requests marked as proxied by the activator are also
 * counted in the `proxied` fields.
 */

/** One window's figures; counts are raw arrivals in the window. */
export interface RequestStatsReport {
  readonly averageConcurrency: number;
  readonly averageProxiedConcurrency: number;
  readonly requestCount: number;
  readonly proxiedRequestCount: number;
}

/** A clock in milliseconds; injected so windows can be tested exactly. */
export type Clock = () => number;

/** Accumulates concurrency and arrivals between reports. */
export class RequestStats {
  private concurrency = 0;
  private proxiedConcurrency = 0;
  private lastChange: number;
  private weighted = 0;
  private proxiedWeighted = 0;
  private elapsed = 0;
  private requests = 0;
  private proxiedRequests = 0;

  constructor(private readonly now: Clock = performance.now.bind(performance)) {
    this.lastChange = now();
  }

  /** Requests in flight now (waiting ones included). */
  get current(): number {
    return this.concurrency;
  }

  /** Records an arrival; `proxied` when it came through the activator. */
  requestIn(proxied: boolean): void {
    this.advance(this.now());
    this.concurrency++;
    this.requests++;
    if (proxied) {
      this.proxiedConcurrency++;
      this.proxiedRequests++;
    }
  }

  /** Records a departure; `proxied` must match the arrival's. */
  requestOut(proxied: boolean): void {
    this.advance(this.now());
    this.concurrency--;
    if (proxied) this.proxiedConcurrency--;
  }

  /** Closes the window: returns its figures and starts the next one. Concurrency carries over. */
  report(): RequestStatsReport {
    this.advance(this.now());
    const seconds = this.elapsed;
    const report: RequestStatsReport = {
      averageConcurrency: seconds > 0 ? this.weighted / seconds : 0,
      averageProxiedConcurrency: seconds > 0 ? this.proxiedWeighted / seconds : 0,
      requestCount: this.requests,
      proxiedRequestCount: this.proxiedRequests,
    };
    this.weighted = 0;
    this.proxiedWeighted = 0;
    this.elapsed = 0;
    this.requests = 0;
    this.proxiedRequests = 0;
    return report;
  }

  private advance(now: number): void {
    const dt = now - this.lastChange;
    if (dt <= 0) return;
    const seconds = dt / 1000;
    this.elapsed += seconds;
    this.weighted += this.concurrency * seconds;
    this.proxiedWeighted += this.proxiedConcurrency * seconds;
    this.lastChange = now;
  }
}
