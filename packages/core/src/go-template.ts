/**
 * A subset of Go's `text/template`, enough for Knative's request log templates (`logging.request-log-template`,
 * `SERVING_REQUEST_LOG_TEMPLATE`), parsed once at start into a tree that {@link GoTemplate.execute} walks.
 *
 * Supported: text and actions with `{{-`/`-}}` trimming and comments; pipelines with `|`; fields
 * (`.Request.URL.Path`), methods with arguments (`.Request.Header.Get "X"`), `$` and variables
 * (`$x := …`, `$x = …`), parenthesised pipelines; string (quoted and raw), number, boolean and `nil`
 * constants; `if`/`else if`/`else`, `with`/`else with`, `range` (with `$i, $v :=`) and `end`; the functions
 * `and or not len index slice print printf println js html urlquery eq ne lt le gt ge`. Not supported
 * (refused at parse): `define`, `template`, `block`, `break`, `continue`, `call`.
 *
 * As in Go, a syntax error or an unknown function or variable fails the parse; a field that the data does
 * not have fails the execution. Data are JavaScript values: an object's property is a field, a function
 * property a method; an object with a `goIndex(key)` method is a Go map to `index`.
 */
import {
  formatGoValue,
  type GoValue,
  goHtmlEscape,
  goJsEscape,
  goQueryEscape,
  goSprint,
  goSprintf,
  goSprintln,
} from './go-format.js';

/** A template that does not parse, with Go's kind of message. */
export class GoTemplateParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GoTemplateParseError';
  }
}

/** A template that failed while it ran on some data. */
export class GoTemplateExecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GoTemplateExecError';
  }
}

/** An operand of a command. */
type Arg =
  | { readonly t: 'dot' }
  | { readonly t: 'field'; readonly names: readonly string[] }
  | { readonly t: 'var'; readonly name: string; readonly names: readonly string[] }
  | { readonly t: 'fn'; readonly name: string }
  | { readonly t: 'const'; readonly value: GoValue }
  | { readonly t: 'pipe'; readonly pipe: Pipeline; readonly names: readonly string[] };

/** One `|`-separated stage of a pipeline. */
interface Command {
  readonly args: readonly Arg[];
}

interface Pipeline {
  /** Variables declared (`:=`) or assigned (`=`) from the pipeline's value. */
  readonly vars: readonly string[];
  readonly assign: boolean;
  readonly cmds: readonly Command[];
}

/** `if`, `with` or `range`, with its body and its `else` body. */
interface ControlNode {
  readonly t: 'if' | 'with' | 'range';
  readonly pipe: Pipeline;
  readonly list: readonly Node[];
  readonly elseList: readonly Node[];
}

type Node =
  | { readonly t: 'text'; readonly text: string }
  | { readonly t: 'action'; readonly pipe: Pipeline }
  | ControlNode;

type Fn = (args: readonly GoValue[]) => GoValue;

/** Go's truth: false, 0, nil, and empty strings, slices and maps are false. */
function truth(v: GoValue): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof Map) return v.size > 0;
  return true;
}

function basic(v: GoValue): string | number | boolean | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  if (typeof v === 'bigint') return Number(v);
  throw new GoTemplateExecError(`incompatible types for comparison: ${formatGoValue(v)}`);
}

function compare(name: string, a: GoValue, b: GoValue): number {
  const x = basic(a);
  const y = basic(b);
  if (typeof x !== typeof y || (typeof x !== 'number' && typeof x !== 'string')) {
    throw new GoTemplateExecError(`error calling ${name}: incompatible types for comparison`);
  }
  return (x as number | string) < (y as number | string) ? -1 : x === y ? 0 : 1;
}

function arity(name: string, args: readonly GoValue[], min: number, max = min): void {
  if (args.length < min || args.length > max) {
    throw new GoTemplateExecError(`wrong number of args for ${name}: want ${min} got ${args.length}`);
  }
}

/** Go's `index`: slices by integer, maps by key (a missing key gives the map's zero value). */
function indexOne(item: GoValue, key: GoValue): GoValue {
  if (item === null || item === undefined)
    throw new GoTemplateExecError('error calling index: index of untyped nil');
  if (typeof item === 'string' || Array.isArray(item)) {
    if (typeof key !== 'number' || !Number.isInteger(key) || key < 0 || key >= item.length) {
      throw new GoTemplateExecError(`error calling index: index out of range: ${formatGoValue(key)}`);
    }
    return typeof item === 'string' ? Buffer.from(item)[key] : item[key];
  }
  const indexable = item as { goIndex?: (k: GoValue) => GoValue };
  if (typeof indexable.goIndex === 'function') return indexable.goIndex(key);
  if (item instanceof Map) return item.get(key);
  if (typeof item === 'object') return (item as Record<string, GoValue>)[String(key)];
  throw new GoTemplateExecError(`error calling index: can't index item of type ${typeof item}`);
}

function goLen(v: GoValue): number {
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (Array.isArray(v)) return v.length;
  if (v instanceof Map) return v.size;
  const sized = v as { goLen?: () => number };
  if (v !== null && typeof v === 'object' && typeof sized.goLen === 'function') return sized.goLen();
  throw new GoTemplateExecError(`error calling len: len of type ${v === null ? 'nil' : typeof v}`);
}

/** `js`, `html` and `urlquery` take their operands as one string: the only string, or `fmt.Sprint` of all. */
function escaperInput(args: readonly GoValue[]): string {
  return args.length === 1 && typeof args[0] === 'string' ? args[0] : goSprint(args);
}

const eq: Fn = (args) => {
  if (args.length < 2) throw new GoTemplateExecError('missing argument for comparison');
  const first = basic(args[0]);
  return args.slice(1).some((a) => {
    const other = basic(a);
    // Go compares basic values of one kind only (a nil on either side compares as unequal).
    if (first !== null && other !== null && typeof first !== typeof other) {
      throw new GoTemplateExecError('error calling eq: incompatible types for comparison');
    }
    return other === first;
  });
};

/** The builtin functions, as Go's `text/template` defines them (`and`/`or` are handled lazily). */
const FUNCS: Readonly<Record<string, Fn>> = {
  not: (a) => {
    arity('not', a, 1);
    return !truth(a[0]);
  },
  len: (a) => {
    arity('len', a, 1);
    return goLen(a[0]);
  },
  index: (a) => {
    if (a.length < 1) arity('index', a, 1);
    let item = a[0];
    for (const key of a.slice(1)) item = indexOne(item, key);
    return item;
  },
  slice: (a) => {
    arity('slice', a, 1, 3);
    const item = a[0];
    if (typeof item !== 'string' && !Array.isArray(item))
      throw new GoTemplateExecError("error calling slice: can't slice item");
    const from = (a[1] as number | undefined) ?? 0;
    const to = (a[2] as number | undefined) ?? item.length;
    if (from < 0 || to > item.length || from > to)
      throw new GoTemplateExecError('error calling slice: index out of range');
    return item.slice(from, to);
  },
  print: (a) => goSprint(a),
  println: (a) => goSprintln(a),
  printf: (a) => {
    if (a.length < 1 || typeof a[0] !== 'string')
      throw new GoTemplateExecError('printf needs a format string');
    return goSprintf(a[0], a.slice(1));
  },
  js: (a) => goJsEscape(escaperInput(a)),
  html: (a) => goHtmlEscape(escaperInput(a)),
  urlquery: (a) => goQueryEscape(escaperInput(a)),
  eq,
  ne: (a) => {
    arity('ne', a, 2);
    return !eq(a) as boolean;
  },
  lt: (a) => {
    arity('lt', a, 2);
    return compare('lt', a[0], a[1]) < 0;
  },
  le: (a) => {
    arity('le', a, 2);
    return compare('le', a[0], a[1]) <= 0;
  },
  gt: (a) => {
    arity('gt', a, 2);
    return compare('gt', a[0], a[1]) > 0;
  },
  ge: (a) => {
    arity('ge', a, 2);
    return compare('ge', a[0], a[1]) >= 0;
  },
};

const KNOWN_FUNCS = new Set([...Object.keys(FUNCS), 'and', 'or']);
const UNSUPPORTED = new Set(['define', 'template', 'block', 'break', 'continue', 'call']);

// ---------------------------------------------------------------------------------------------- lexing

type TokKind =
  | 'field'
  | 'var'
  | 'ident'
  | 'string'
  | 'number'
  | 'char'
  | 'pipe'
  | 'lparen'
  | 'rparen'
  | 'declare'
  | 'assign'
  | 'comma'
  | 'dot';

interface Token {
  readonly kind: TokKind;
  readonly text: string;
  /** Whitespace came before it (a field after a space starts a new operand). */
  readonly spaced: boolean;
}

const IDENT = /[A-Za-z_][A-Za-z0-9_]*/y;
const NUMBER =
  /[+-]?(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|(?:\d[\d_]*)?\.?\d[\d_]*(?:[eE][+-]?\d+)?)/y;

function lexAction(src: string, line: number): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let spaced = true;
  const fail = (msg: string): never => {
    throw new GoTemplateParseError(`template: requestLog:${line}: ${msg}`);
  };
  const push = (kind: TokKind, text: string) => {
    tokens.push({ kind, text, spaced });
    spaced = false;
  };
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      spaced = true;
      i++;
      continue;
    }
    if (c === '|') {
      push('pipe', c);
      i++;
    } else if (c === '(') {
      push('lparen', c);
      i++;
    } else if (c === ')') {
      push('rparen', c);
      i++;
    } else if (c === ',') {
      push('comma', c);
      i++;
    } else if (c === ':' && src[i + 1] === '=') {
      push('declare', ':=');
      i += 2;
    } else if (c === '=') {
      push('assign', '=');
      i++;
    } else if (c === '"') {
      let j = i + 1;
      while (j < src.length && src[j] !== '"') {
        if (src[j] === '\\') j++;
        if (src[j] === '\n') fail('unterminated quoted string');
        j++;
      }
      if (j >= src.length) fail('unterminated quoted string');
      push('string', src.slice(i, j + 1));
      i = j + 1;
    } else if (c === '`') {
      const j = src.indexOf('`', i + 1);
      if (j < 0) fail('unterminated raw quoted string');
      push('string', src.slice(i, j + 1));
      i = j + 1;
    } else if (c === "'") {
      let j = i + 1;
      while (j < src.length && src[j] !== "'") {
        if (src[j] === '\\') j++;
        j++;
      }
      if (j >= src.length) fail('unterminated character constant');
      push('char', src.slice(i, j + 1));
      i = j + 1;
    } else if (c === '.' && !/\d/.test(src[i + 1] ?? '')) {
      IDENT.lastIndex = i + 1;
      const m = IDENT.exec(src);
      if (m) {
        push('field', m[0]);
        i += 1 + m[0].length;
      } else {
        push('dot', '.');
        i++;
      }
    } else if (c === '$') {
      IDENT.lastIndex = i + 1;
      const m = IDENT.exec(src);
      push('var', `$${m ? m[0] : ''}`);
      i += 1 + (m ? m[0].length : 0);
    } else if (/[0-9+\-.]/.test(c)) {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(src);
      if (!m || m[0] === '' || m[0] === '+' || m[0] === '-')
        fail(`bad number syntax: ${JSON.stringify(src.slice(i, i + 10))}`);
      push('number', m![0]);
      i += m![0].length;
    } else {
      IDENT.lastIndex = i;
      const m = IDENT.exec(src);
      if (!m) fail(`unexpected ${JSON.stringify(c)} in command`);
      push('ident', m![0]);
      i += m![0].length;
    }
  }
  return tokens;
}

function unquote(text: string, line: number): string {
  if (text.startsWith('`')) return text.slice(1, -1);
  try {
    // A Go interpreted string literal's escapes are JSON's plus \a \b \f \v \x \' and octal; JSON covers
    // the ones a log template uses, the rest are translated first.
    const body = text
      .slice(1, -1)
      .replace(/\\x([0-9a-fA-F]{2})/g, '\\u00$1')
      .replace(/\\a/g, '\\u0007')
      .replace(/\\v/g, '\\u000b')
      .replace(/\\'/g, "'")
      .replace(/\\U([0-9a-fA-F]{8})/g, (_m, h: string) => {
        const s = String.fromCodePoint(Number.parseInt(h, 16));
        return s.length === 1 ? s : `\\u${s.charCodeAt(0).toString(16)}\\u${s.charCodeAt(1).toString(16)}`;
      });
    return JSON.parse(`"${body}"`) as string;
  } catch {
    throw new GoTemplateParseError(`template: requestLog:${line}: malformed quoted string ${text}`);
  }
}

function numberValue(text: string, line: number): number {
  const clean = text.replace(/_/g, '');
  const n = /^[+-]?0[xXbBoO]/.test(clean)
    ? (clean.startsWith('-') ? -1 : 1) * Number(clean.replace(/^[+-]/, ''))
    : Number(clean);
  if (Number.isNaN(n))
    throw new GoTemplateParseError(`template: requestLog:${line}: bad number syntax: "${text}"`);
  return n;
}

// --------------------------------------------------------------------------------------------- parsing

/** One action's tokens, consumed left to right. */
class ActionParser {
  private i = 0;

  constructor(
    private readonly tokens: readonly Token[],
    private readonly line: number,
    private readonly vars: string[],
  ) {}

  fail(msg: string): never {
    throw new GoTemplateParseError(`template: requestLog:${this.line}: ${msg}`);
  }

  get done(): boolean {
    return this.i >= this.tokens.length;
  }

  peek(): Token | undefined {
    return this.tokens[this.i];
  }

  next(): Token | undefined {
    return this.tokens[this.i++];
  }

  /** A pipeline up to the end of the action, or up to `)` when `inParens`. */
  pipeline(context: string, inParens = false): Pipeline {
    const declared: string[] = [];
    let assign = false;
    // Declarations: `$x :=`, `$x =`, `$i, $v :=` (the last only for range).
    const save = this.i;
    const first = this.peek();
    if (first?.kind === 'var') {
      this.next();
      const after = this.peek();
      if (after?.kind === 'declare' || after?.kind === 'assign') {
        declared.push(first.text);
        assign = after.kind === 'assign';
        this.next();
      } else if (after?.kind === 'comma' && context === 'range') {
        this.next();
        const second = this.next();
        const op = this.next();
        if (second?.kind !== 'var' || (op?.kind !== 'declare' && op?.kind !== 'assign'))
          this.fail('range can only initialize variables');
        declared.push(first.text, second.text);
        assign = op.kind === 'assign';
      } else {
        this.i = save;
      }
    }
    if (assign) {
      for (const v of declared) if (!this.vars.includes(v)) this.fail(`undefined variable "${v}"`);
    }
    const cmds: Command[] = [];
    for (;;) {
      cmds.push(this.command(inParens));
      const t = this.peek();
      if (t === undefined || (inParens && t.kind === 'rparen')) break;
      if (t.kind !== 'pipe') this.fail(`unexpected ${JSON.stringify(t.text)} in ${context}`);
      this.next();
    }
    if (cmds.length === 0 || cmds.some((c) => c.args.length === 0)) this.fail(`missing value for ${context}`);
    for (let k = 1; k < cmds.length; k++) {
      const head = cmds[k]!.args[0]!;
      if (head.t === 'const' || head.t === 'dot') {
        this.fail(`non executable command in pipeline stage ${k + 1}`);
      }
    }
    if (!assign) this.vars.push(...declared);
    return { vars: declared, assign, cmds };
  }

  private command(inParens: boolean): Command {
    const args: Arg[] = [];
    for (;;) {
      const t = this.peek();
      if (t === undefined || t.kind === 'pipe' || (inParens && t.kind === 'rparen')) break;
      if (t.kind === 'rparen') this.fail('unexpected right paren');
      args.push(this.operand());
    }
    return { args };
  }

  /** Field names written right after an operand (`(…).A.B`, `$x.A`). */
  private chain(): string[] {
    const names: string[] = [];
    while (this.peek()?.kind === 'field' && !this.peek()!.spaced) names.push(this.next()!.text);
    return names;
  }

  private operand(): Arg {
    const t = this.next()!;
    switch (t.kind) {
      case 'dot':
        if (this.peek()?.kind === 'field' && !this.peek()!.spaced) this.fail('unexpected . after term');
        return { t: 'dot' };
      case 'field': {
        const names = [t.text, ...this.chain()];
        return { t: 'field', names };
      }
      case 'var': {
        if (!this.vars.includes(t.text)) this.fail(`undefined variable "${t.text}"`);
        return { t: 'var', name: t.text, names: this.chain() };
      }
      case 'string':
        return { t: 'const', value: unquote(t.text, this.line) };
      case 'char': {
        const s = unquote(`"${t.text.slice(1, -1).replace(/"/g, '\\"')}"`, this.line);
        return { t: 'const', value: s.codePointAt(0) ?? 0 };
      }
      case 'number':
        return { t: 'const', value: numberValue(t.text, this.line) };
      case 'lparen': {
        const pipe = this.pipeline('parenthesized pipeline', true);
        if (this.next()?.kind !== 'rparen') this.fail('unclosed left paren');
        return { t: 'pipe', pipe, names: this.chain() };
      }
      case 'ident':
        if (t.text === 'true' || t.text === 'false') return { t: 'const', value: t.text === 'true' };
        if (t.text === 'nil') return { t: 'const', value: null };
        if (!KNOWN_FUNCS.has(t.text)) this.fail(`function "${t.text}" not defined`);
        return { t: 'fn', name: t.text };
      default:
        return this.fail(`unexpected ${JSON.stringify(t.text)} in operand`);
    }
  }
}

interface RawAction {
  readonly body: string;
  readonly line: number;
}

/** Splits the source into text and action bodies, applying `{{-`/`-}}` trimming and dropping comments. */
function split(src: string): (string | RawAction)[] {
  const parts: (string | RawAction)[] = [];
  let i = 0;
  let line = 1;
  let trimNext = false;
  for (;;) {
    const open = src.indexOf('{{', i);
    let text = open < 0 ? src.slice(i) : src.slice(i, open);
    if (trimNext) text = text.replace(/^[ \t\r\n]+/, '');
    trimNext = false;
    if (open < 0) {
      if (text !== '') parts.push(text);
      return parts;
    }
    let start = open + 2;
    if (src[start] === '-' && /[ \t\r\n]/.test(src[start + 1] ?? '')) {
      text = text.replace(/[ \t\r\n]+$/, '');
      start++;
    }
    if (text !== '') parts.push(text);
    line += (src.slice(i, open).match(/\n/g) ?? []).length;
    const inner = src.slice(start).trimStart();
    let end: number;
    if (inner.startsWith('/*')) {
      const close = src.indexOf('*/', start);
      if (close < 0) throw new GoTemplateParseError(`template: requestLog:${line}: unclosed comment`);
      end = src.indexOf('}}', close);
      if (end < 0 || !/^\s*-?\s*$/.test(src.slice(close + 2, end))) {
        throw new GoTemplateParseError(`template: requestLog:${line}: comment ends before closing delimiter`);
      }
    } else {
      // `}}` inside a quoted string does not close the action.
      end = -1;
      let quote = '';
      for (let j = start; j < src.length - 1; j++) {
        const c = src[j]!;
        if (quote) {
          if (c === '\\' && quote !== '`') j++;
          else if (c === quote) quote = '';
        } else if (c === '"' || c === '`' || c === "'") quote = c;
        else if (c === '}' && src[j + 1] === '}') {
          end = j;
          break;
        }
      }
      if (end < 0) throw new GoTemplateParseError(`template: requestLog:${line}: unclosed action`);
    }
    let bodyEnd = end;
    if (src[end - 1] === '-' && /[ \t\r\n]/.test(src[end - 2] ?? '')) {
      bodyEnd = end - 1;
      trimNext = true;
    }
    const body = src.slice(start, bodyEnd);
    if (!inner.startsWith('/*')) parts.push({ body, line });
    line += (src.slice(open, end).match(/\n/g) ?? []).length;
    i = end + 2;
  }
}

/** Builds the tree from the split source. */
class TreeBuilder {
  private i = 0;
  private readonly vars: string[] = ['$'];

  constructor(private readonly parts: readonly (string | RawAction)[]) {}

  build(): Node[] {
    const { list, stop } = this.list();
    if (stop !== undefined)
      throw new GoTemplateParseError(`template: requestLog:${stop.line}: unexpected {{${stop.word}}}`);
    return list;
  }

  /** Nodes up to an `{{end}}` or `{{else …}}` (returned as `stop`) or the end of the source. */
  private list(): { list: Node[]; stop?: { word: string; rest: ActionParser; line: number } } {
    const list: Node[] = [];
    while (this.i < this.parts.length) {
      const part = this.parts[this.i++]!;
      if (typeof part === 'string') {
        list.push({ t: 'text', text: part });
        continue;
      }
      const p = new ActionParser(lexAction(part.body, part.line), part.line, this.vars);
      if (p.done) p.fail('missing value for command');
      const head = p.peek()!;
      const word = head.kind === 'ident' ? head.text : '';
      if (UNSUPPORTED.has(word)) p.fail(`{{${word}}} is not supported in a request log template`);
      if (word === 'end' || word === 'else') {
        p.next();
        return { list, stop: { word, rest: p, line: part.line } };
      }
      if (word === 'if' || word === 'with' || word === 'range') {
        p.next();
        list.push(this.control(word, p, part.line));
        continue;
      }
      list.push({ t: 'action', pipe: p.pipeline('command') });
    }
    return { list };
  }

  private control(word: 'if' | 'with' | 'range', p: ActionParser, line: number): Node {
    const scope = this.vars.length;
    if (p.done) p.fail(`missing value for ${word}`);
    const pipe = p.pipeline(word);
    const body = this.list();
    let elseList: Node[] = [];
    if (body.stop === undefined)
      throw new GoTemplateParseError(`template: requestLog:${line}: unexpected EOF`);
    if (body.stop.word === 'else') {
      const rest = body.stop.rest;
      const next = rest.peek();
      if (next !== undefined) {
        // `{{else if …}}` / `{{else with …}}`: a nested control sharing this one's {{end}}.
        if (
          next.kind !== 'ident' ||
          (next.text !== 'if' && next.text !== 'with') ||
          (word !== 'if' && word !== 'with')
        ) {
          rest.fail('unexpected tokens after else');
        }
        rest.next();
        elseList = [this.control(next.text as 'if' | 'with', rest, body.stop.line)];
      } else {
        const tail = this.list();
        if (tail.stop?.word !== 'end')
          throw new GoTemplateParseError(
            `template: requestLog:${line}: expected end; found ${tail.stop ? tail.stop.word : 'EOF'}`,
          );
        if (!tail.stop.rest.done) tail.stop.rest.fail('unexpected tokens after end');
        elseList = tail.list;
      }
    } else if (!body.stop.rest.done) body.stop.rest.fail('unexpected tokens after end');
    this.vars.length = scope;
    return { t: word, pipe, list: body.list, elseList };
  }
}

// ------------------------------------------------------------------------------------------- execution

interface Scope {
  dot: GoValue;
  vars: Map<string, GoValue>;
}

/** Reads `name` of `value`: a property, or a method called with `args`. */
function field(value: GoValue, name: string, args: readonly GoValue[], final: boolean): GoValue {
  if (value === null || value === undefined) throw new GoTemplateExecError(`nil pointer evaluating .${name}`);
  if (typeof value !== 'object' && typeof value !== 'function') {
    throw new GoTemplateExecError(`can't evaluate field ${name} in type ${typeof value}`);
  }
  const indexable = value as { goIndex?: (k: GoValue) => GoValue };
  const obj = value as Record<string, unknown>;
  if (!/^[A-Z]/.test(name)) {
    // Only exported (capitalised) fields and methods are reachable; a map takes any key.
    if (typeof indexable.goIndex === 'function') return indexable.goIndex(name);
    if (value instanceof Map) return value.get(name);
    throw new GoTemplateExecError(`${name} is an unexported field`);
  }
  if (!(name in obj)) {
    if (typeof indexable.goIndex === 'function') return indexable.goIndex(name);
    if (value instanceof Map) return value.get(name);
    throw new GoTemplateExecError(`can't evaluate field ${name}`);
  }
  const v = obj[name];
  if (typeof v === 'function') {
    // A method takes exactly its parameters: the command's arguments when it ends the chain, else none.
    const given = final ? args : [];
    if (given.length !== v.length) {
      throw new GoTemplateExecError(`wrong number of args for ${name}: want ${v.length} got ${given.length}`);
    }
    return (v as (...a: GoValue[]) => GoValue).apply(value, [...given]);
  }
  if (final && args.length > 0)
    throw new GoTemplateExecError(`${name} has arguments but cannot be invoked as function`);
  return v;
}

function chainOf(value: GoValue, names: readonly string[], args: readonly GoValue[]): GoValue {
  let v = value;
  for (let k = 0; k < names.length; k++) v = field(v, names[k]!, args, k === names.length - 1);
  return v;
}

/** Runs a parsed tree. */
class Executor {
  out = '';

  run(nodes: readonly Node[], scope: Scope): void {
    for (const node of nodes) {
      switch (node.t) {
        case 'text':
          this.out += node.text;
          break;
        case 'action': {
          const v = this.pipeline(node.pipe, scope);
          if (node.pipe.vars.length === 0) this.out += formatGoValue(v);
          break;
        }
        case 'if':
        case 'with': {
          const control = node as ControlNode;
          const v = this.pipeline(control.pipe, scope);
          if (truth(v)) {
            this.run(control.list, control.t === 'with' ? { dot: v, vars: scope.vars } : scope);
          } else this.run(control.elseList, scope);
          break;
        }
        case 'range':
          this.range(node as ControlNode, scope);
          break;
      }
    }
  }

  private range(node: ControlNode, scope: Scope): void {
    const v = this.pipeline({ ...node.pipe, vars: [] }, scope);
    let entries: [GoValue, GoValue][];
    if (Array.isArray(v)) entries = v.map((x, k) => [k, x]);
    else if (v instanceof Map)
      entries = [...v.entries()].sort(([a], [b]) => (String(a) < String(b) ? -1 : 1));
    else if (typeof v === 'number' && Number.isInteger(v))
      entries = Array.from({ length: Math.max(v, 0) }, (_x, k) => [k, k]);
    else if (v === null || v === undefined) entries = [];
    else throw new GoTemplateExecError(`range can't iterate over ${formatGoValue(v)}`);
    if (entries.length === 0) {
      this.run(node.elseList, scope);
      return;
    }
    const [first, second] = node.pipe.vars;
    for (const [k, x] of entries) {
      if (second !== undefined) {
        scope.vars.set(first!, k);
        scope.vars.set(second, x);
      } else if (first !== undefined) scope.vars.set(first, x);
      this.run(node.list, { dot: x, vars: scope.vars });
    }
  }

  pipeline(pipe: Pipeline, scope: Scope): GoValue {
    let value: GoValue;
    let piped = false;
    for (const cmd of pipe.cmds) {
      value = this.command(cmd, scope, piped ? [value] : []);
      piped = true;
    }
    for (const name of pipe.vars) scope.vars.set(name, value);
    return value;
  }

  private command(cmd: Command, scope: Scope, final: readonly GoValue[]): GoValue {
    const [head, ...rest] = cmd.args as [Arg, ...Arg[]];
    if (head.t === 'fn') {
      if (head.name === 'and' || head.name === 'or') return this.andOr(head.name, rest, scope, final);
      const args = [...rest.map((a) => this.arg(a, scope)), ...final];
      return FUNCS[head.name]!(args);
    }
    const args = () => [...rest.map((a) => this.arg(a, scope)), ...final];
    switch (head.t) {
      case 'field':
        return chainOf(scope.dot, head.names, args());
      case 'var':
        return chainOf(this.variable(head.name, scope), head.names, args());
      case 'pipe':
        return chainOf(this.pipeline(head.pipe, scope), head.names, args());
      default:
        if (head.t === 'const' && head.value === null) throw new GoTemplateExecError('nil is not a command');
        if (rest.length > 0 || final.length > 0)
          throw new GoTemplateExecError(
            `can't give argument to non-function ${formatGoValue(this.arg(head, scope))}`,
          );
        return this.arg(head, scope);
    }
  }

  /** `and`/`or`, evaluating operands only as far as needed (Go ≥ 1.18). */
  private andOr(name: 'and' | 'or', rest: readonly Arg[], scope: Scope, final: readonly GoValue[]): GoValue {
    const count = rest.length + final.length;
    if (count < 1) throw new GoTemplateExecError(`wrong number of args for ${name}: want at least 1 got 0`);
    let v: GoValue;
    for (let k = 0; k < count; k++) {
      v = k < rest.length ? this.arg(rest[k]!, scope) : final[k - rest.length];
      if (truth(v) !== (name === 'and')) return v;
    }
    return v;
  }

  private variable(name: string, scope: Scope): GoValue {
    return scope.vars.get(name);
  }

  private arg(a: Arg, scope: Scope): GoValue {
    switch (a.t) {
      case 'dot':
        return scope.dot;
      case 'const':
        return a.value;
      case 'field':
        return chainOf(scope.dot, a.names, []);
      case 'var':
        return chainOf(this.variable(a.name, scope), a.names, []);
      case 'pipe':
        return chainOf(this.pipeline(a.pipe, scope), a.names, []);
      case 'fn':
        // A function named as an operand is called with no arguments (Go's `{{printf "%s" (len)}}` errors alike).
        return FUNCS[a.name] ? FUNCS[a.name]!([]) : this.andOr(a.name as 'and' | 'or', [], scope, []);
    }
  }
}

/**
 * A parsed template. {@link GoTemplate.parse} throws a {@link GoTemplateParseError} for what Go's parser
 * refuses; {@link execute} throws a {@link GoTemplateExecError} for what Go's execution refuses (a field
 * the data lacks, a function given the wrong arguments).
 */
export class GoTemplate {
  private constructor(
    /** The text parsed. */
    readonly source: string,
    private readonly tree: readonly Node[],
  ) {}

  /** Parses `source` once; the result can be executed any number of times. */
  static parse(source: string): GoTemplate {
    return new GoTemplate(source, new TreeBuilder(split(source)).build());
  }

  /** The source, so a configuration holding a template logs as its text. */
  toJSON(): string {
    return this.source;
  }

  /** The template's output for `data` (Go's `.`, and `$`). */
  execute(data: GoValue): string {
    const ex = new Executor();
    ex.run(this.tree, { dot: data, vars: new Map([['$', data]]) });
    return ex.out;
  }
}
