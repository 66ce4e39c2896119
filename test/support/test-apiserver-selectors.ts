/**
 * Label and field selectors as the Kubernetes API server parses them (`k8s.io/apimachinery/pkg/labels`,
 * `pkg/fields`), for the in-process test API server.
 */

/** A selector the API server would reject with 400 BadRequest. */
export class SelectorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SelectorError';
  }
}

/** One term of a label selector. */
export interface LabelRequirement {
  readonly key: string;
  readonly op: 'eq' | 'neq' | 'exists' | 'notexists' | 'in' | 'notin';
  readonly values: readonly string[];
}

/** One term of a field selector. */
export interface FieldRequirement {
  readonly field: string;
  readonly op: 'eq' | 'neq';
  readonly value: string;
}

const KEY = /^([A-Za-z0-9][-A-Za-z0-9_.]*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const SET_TERM = /^(\S+)\s+(in|notin)\s*\((.*)\)$/;

/** Splits on commas outside parentheses, so `a in (x,y),b` is two terms. */
function splitTerms(text: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      terms.push(text.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(text.slice(start));
  return terms.map((t) => t.trim());
}

function checkKey(key: string, term: string): string {
  if (!KEY.test(key)) throw new SelectorError(`invalid label key in selector term "${term}"`);
  return key;
}

function checkValue(value: string, term: string): string {
  if (!VALUE.test(value)) throw new SelectorError(`invalid label value in selector term "${term}"`);
  return value;
}

/** Parses a `labelSelector` query value: `a=b`, `a==b`, `a!=b`, `a`, `!a`, `a in (x,y)`, `a notin (x)`. */
export function parseLabelSelector(text: string | null | undefined): LabelRequirement[] {
  if (!text || text.trim() === '') return [];
  return splitTerms(text).map((term): LabelRequirement => {
    if (term === '') throw new SelectorError('empty term in label selector');
    const set = SET_TERM.exec(term);
    if (set) {
      const values = set[3]!
        .split(',')
        .map((v) => v.trim())
        .map((v) => checkValue(v, term));
      return { key: checkKey(set[1]!, term), op: set[2] === 'in' ? 'in' : 'notin', values };
    }
    if (term.startsWith('!')) {
      return { key: checkKey(term.slice(1).trim(), term), op: 'notexists', values: [] };
    }
    const neq = term.indexOf('!=');
    if (neq >= 0) {
      const value = checkValue(term.slice(neq + 2).trim(), term);
      return { key: checkKey(term.slice(0, neq).trim(), term), op: 'neq', values: [value] };
    }
    const eq = term.indexOf('=');
    if (eq >= 0) {
      const valueStart = term[eq + 1] === '=' ? eq + 2 : eq + 1;
      const value = checkValue(term.slice(valueStart).trim(), term);
      return { key: checkKey(term.slice(0, eq).trim(), term), op: 'eq', values: [value] };
    }
    return { key: checkKey(term, term), op: 'exists', values: [] };
  });
}

/** Reports whether a label set satisfies every requirement (`!=` and `notin` also match a missing label). */
export function matchesLabels(
  requirements: readonly LabelRequirement[],
  labels: Readonly<Record<string, string>> | undefined,
): boolean {
  for (const r of requirements) {
    const has = labels !== undefined && Object.hasOwn(labels, r.key);
    const value = has ? labels[r.key] : undefined;
    switch (r.op) {
      case 'exists':
        if (!has) return false;
        break;
      case 'notexists':
        if (has) return false;
        break;
      case 'eq':
      case 'in':
        if (!has || !r.values.includes(value!)) return false;
        break;
      case 'neq':
      case 'notin':
        if (has && r.values.includes(value!)) return false;
        break;
    }
  }
  return true;
}

const FIELDS = new Set(['metadata.name', 'metadata.namespace']);

/** Parses a `fieldSelector` query value; only `metadata.name` and `metadata.namespace` are supported. */
export function parseFieldSelector(text: string | null | undefined): FieldRequirement[] {
  if (!text || text.trim() === '') return [];
  return splitTerms(text).map((term): FieldRequirement => {
    const neq = term.indexOf('!=');
    const eq = term.indexOf('=');
    if (eq < 0) throw new SelectorError(`invalid field selector term "${term}"`);
    const op = neq >= 0 ? 'neq' : 'eq';
    const field = term.slice(0, neq >= 0 ? neq : eq).trim();
    let valueStart = neq >= 0 ? neq + 2 : eq + 1;
    if (op === 'eq' && term[valueStart] === '=') valueStart++;
    if (!FIELDS.has(field)) throw new SelectorError(`field label not supported: ${field}`);
    return { field, op, value: term.slice(valueStart).trim() };
  });
}

/** Reports whether an object's metadata satisfies every field requirement. */
export function matchesFields(
  requirements: readonly FieldRequirement[],
  metadata: { readonly name?: string; readonly namespace?: string } | undefined,
): boolean {
  for (const r of requirements) {
    const actual = (r.field === 'metadata.name' ? metadata?.name : metadata?.namespace) ?? '';
    if ((actual === r.value) !== (r.op === 'eq')) return false;
  }
  return true;
}
