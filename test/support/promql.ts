/**
 * A small reader of PromQL expressions, enough to check a dashboard against what the components expose:
 * the metric names an expression selects with the label names matched on each, the labels it groups or
 * matches by (`by`, `without`, `on`, `ignoring`, `group_left`, `group_right`), and Grafana's
 * `label_values(selector, label)`. Strings, ranges (`[5m]`, `[$__rate_interval]`) and numbers are skipped.
 */

/** One vector selector: a metric and the labels its matchers name. */
export interface Selector {
  readonly metric: string;
  readonly labels: readonly string[];
}

/** What an expression refers to. */
export interface PromqlRefs {
  readonly selectors: readonly Selector[];
  /** Labels named by grouping and vector matching clauses, and by `label_values`' second argument. */
  readonly groupingLabels: readonly string[];
}

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'atan2', 'inf', 'nan']);
const LABEL_LISTS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
/** Aggregation operators, which may be followed by `by (…)` before their parentheses. */
const AGGREGATIONS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
  'limitk',
  'limit_ratio',
]);
const IDENT = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;

/** Reads the label names of a `{…}` matcher list starting at `expr[i] === '{'`; returns them and the index past `}`. */
function matchers(expr: string, start: number): { labels: string[]; end: number } {
  const labels: string[] = [];
  let i = start + 1;
  for (;;) {
    while (/[\s,]/.test(expr[i] ?? '')) i++;
    if (expr[i] === '}') return { labels, end: i + 1 };
    IDENT.lastIndex = i;
    const m = IDENT.exec(expr);
    if (!m) throw new Error(`bad label matcher at ${i} in ${expr}`);
    labels.push(m[0]);
    i += m[0].length;
    while (/\s/.test(expr[i] ?? '')) i++;
    const op = /^(=~|!~|!=|=)/.exec(expr.slice(i));
    if (!op) throw new Error(`bad matcher operator at ${i} in ${expr}`);
    i += op[0].length;
    while (/\s/.test(expr[i] ?? '')) i++;
    i = skipString(expr, i);
  }
}

function skipString(expr: string, i: number): number {
  const quote = expr[i];
  if (quote !== '"' && quote !== "'" && quote !== '`')
    throw new Error(`expected a string at ${i} in ${expr}`);
  let j = i + 1;
  while (j < expr.length && expr[j] !== quote) j += expr[j] === '\\' && quote !== '`' ? 2 : 1;
  if (j >= expr.length) throw new Error(`unterminated string in ${expr}`);
  return j + 1;
}

/** Reads `expr`'s selectors and grouping labels. */
export function promqlRefs(expr: string): PromqlRefs {
  const selectors: Selector[] = [];
  const groupingLabels: string[] = [];
  let i = 0;
  let depth = 0;
  while (i < expr.length) {
    const c = expr[i]!;
    if (c === '(' || c === ')') {
      depth += c === '(' ? 1 : -1;
      if (depth < 0) throw new Error(`unbalanced ) at ${i} in ${expr}`);
      i++;
    } else if (/\s|[,+\-*/%^<>=!]/.test(c)) {
      i++;
    } else if (c === '"' || c === "'" || c === '`') {
      i = skipString(expr, i);
    } else if (c === '[') {
      i = expr.indexOf(']', i) + 1;
      if (i === 0) throw new Error(`unclosed range in ${expr}`);
    } else if (c === '{') {
      // A selector without a metric name.
      const { labels, end } = matchers(expr, i);
      selectors.push({ metric: '', labels });
      i = end;
    } else if (/[0-9.]/.test(c)) {
      const m = /^[0-9.]+(e[+-]?\d+)?[a-z]*/i.exec(expr.slice(i))!;
      i += m[0].length;
    } else {
      IDENT.lastIndex = i;
      const m = IDENT.exec(expr);
      if (!m) throw new Error(`unexpected ${JSON.stringify(c)} at ${i} in ${expr}`);
      const word = m[0];
      i += word.length;
      let j = i;
      while (/\s/.test(expr[j] ?? '')) j++;
      if (LABEL_LISTS.has(word)) {
        if (expr[j] !== '(') continue;
        const close = expr.indexOf(')', j);
        for (const l of expr.slice(j + 1, close).split(','))
          if (l.trim() !== '') groupingLabels.push(l.trim());
        i = close + 1;
      } else if (word === 'label_values' && expr[j] === '(') {
        // Grafana's template query: label_values(selector, label) or label_values(label).
        const close = expr.lastIndexOf(')');
        const args = expr.slice(j + 1, close);
        const comma = args.lastIndexOf(',');
        if (comma >= 0) {
          selectors.push(...promqlRefs(args.slice(0, comma)).selectors);
          groupingLabels.push(args.slice(comma + 1).trim());
        } else groupingLabels.push(args.trim());
        i = close + 1;
      } else if (expr[j] === '(' || KEYWORDS.has(word.toLowerCase()) || AGGREGATIONS.has(word)) {
        // A function or an aggregation (its `by` may come before or after the parentheses), or a keyword.
      } else if (expr[j] === '{') {
        const { labels, end } = matchers(expr, j);
        selectors.push({ metric: word, labels });
        i = end;
      } else {
        selectors.push({ metric: word, labels: [] });
      }
    }
  }
  if (depth !== 0) throw new Error(`unbalanced ( in ${expr}`);
  return { selectors, groupingLabels };
}
