import { describe, expect, it } from 'vitest';
import { createRequestMetrics } from './request-metrics.js';
import { routeTag } from './request-metrics-opencensus.js';

const LABELS = {
  namespace: 'ns',
  service: 'svc',
  configuration: 'cfg',
  revision: 'rev',
  pod: 'pod',
  container: 'queue-proxy',
};

describe('request metrics, Knative ≥ 1.19’s names', () => {
  it('time a request from its hand-over to the app, and leave out one that never reached it', async () => {
    const metrics = createRequestMetrics('opentelemetry', LABELS, undefined);
    metrics.observe(200, 9, { rawHeaders: [] }, 0.25);
    metrics.observe(503, 0.001, { rawHeaders: [] }, undefined);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(
      /kn_serving_invocation_duration_seconds_sum\{[^}]*http_response_status_code="200"[^}]*\} 0\.25\n/,
    );
    expect(text).not.toContain('http_response_status_code="503"');
  });
});

describe('request metrics, Knative ≤ 1.18’s names', () => {
  it('count every request by code, class and route tag, in whole milliseconds; the app ones only when it reached the app', async () => {
    const metrics = createRequestMetrics('opencensus', LABELS, () => 3);
    metrics.observe(200, 0.0129, { rawHeaders: ['Knative-Serving-Tag', 'blue'] }, 0.0071);
    metrics.observe(503, 0.002, { rawHeaders: [] }, undefined);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(
      /revision_request_latencies_sum\{[^}]*response_code="200",response_code_class="2xx",route_tag="blue"[^}]*\} 12\n/,
    );
    expect(text).toMatch(
      /revision_request_count\{[^}]*response_code="503",response_code_class="5xx",route_tag="DISABLED"[^}]*\} 1\n/,
    );
    expect(text).toMatch(/revision_app_request_latencies_sum\{[^}]*response_code="200"[^}]*\} 7\n/);
    expect(text).not.toMatch(/revision_app_request_count\{[^}]*response_code="503"/);
    expect(text).toMatch(/revision_queue_depth\{[^}]*\} 3\n/);
  });

  it('derive the route tag as Knative does', () => {
    expect(routeTag([])).toBe('DISABLED');
    expect(routeTag(['Knative-Serving-Default-Route', 'true'])).toBe('DEFAULT');
    expect(routeTag(['knative-serving-tag', 'green', 'Knative-Serving-Default-Route', 'true'])).toBe(
      'UNDEFINED',
    );
    expect(routeTag(['knative-serving-tag', 'green'])).toBe('green');
  });
});
