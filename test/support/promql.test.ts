import { describe, expect, it } from 'vitest';
import { promqlRefs } from './promql.js';

describe('promqlRefs', () => {
  it('reads selectors, their matchers and grouping labels, skipping functions, strings, ranges and numbers', () => {
    const refs = promqlRefs(
      'histogram_quantile(0.99, sum by (le, kn_revision_name) (rate(kn_x_bucket{a=~"$ns", b!="x}"}[$__rate_interval]))) / on(c) group_left(d) up offset 5m > bool 2',
    );
    expect(refs.selectors).toEqual([
      { metric: 'kn_x_bucket', labels: ['a', 'b'] },
      { metric: 'up', labels: [] },
    ]);
    expect(refs.groupingLabels).toEqual(['le', 'kn_revision_name', 'c', 'd']);
  });

  it('reads Grafana’s label_values and aggregations with a trailing by', () => {
    expect(promqlRefs('label_values(m{k="v"}, lbl)')).toEqual({
      selectors: [{ metric: 'm', labels: ['k'] }],
      groupingLabels: ['lbl'],
    });
    expect(promqlRefs('sum(rate(m[1m])) without (pod)')).toEqual({
      selectors: [{ metric: 'm', labels: [] }],
      groupingLabels: ['pod'],
    });
  });

  it('refuses unbalanced parentheses and unclosed matchers', () => {
    expect(() => promqlRefs('sum(rate(m[1m])')).toThrow(/unbalanced/);
    expect(() => promqlRefs('sum(m))')).toThrow(/unbalanced/);
    expect(() => promqlRefs('m{a="b"')).toThrow();
  });
});
