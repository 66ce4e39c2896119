/**
 * The part of Go's `fmt` and `text/template` escaping that a request log template reaches: how a value
 * prints (`%v`), `fmt.Sprint`, `fmt.Sprintln`, a `fmt.Sprintf` subset, and the `js`, `html` and
 * `urlquery` escapers. Values are the template data's JavaScript forms: strings, numbers (integers print
 * as Go's ints, others as float64's `%v`), booleans, arrays (Go slices), null (nil) and objects; an object
 * with a `String()` method prints through it, as a Go `fmt.Stringer` does.
 */

/** A value a template computes with. */
export type GoValue = unknown;

/** Go's `%v` of a float64: the shortest digits, in `%e` form when the exponent is below -4 or at least 6. */
export function formatGoFloat(f: number): string {
  if (Number.isNaN(f)) return 'NaN';
  if (f === Number.POSITIVE_INFINITY) return '+Inf';
  if (f === Number.NEGATIVE_INFINITY) return '-Inf';
  if (f === 0) return Object.is(f, -0) ? '-0' : '0';
  // toExponential() without digits gives the shortest round-tripping mantissa, as strconv's shortest.
  const [mantissa, expText] = f.toExponential().split('e') as [string, string];
  const exp = Number(expText);
  // strconv's 'g' with the shortest precision switches to %e at exponent < -4 or >= 6 (1e+06).
  if (exp < -4 || exp >= 6) {
    const sign = exp < 0 ? '-' : '+';
    const abs = Math.abs(exp);
    return `${mantissa}e${sign}${abs < 10 ? '0' : ''}${abs}`;
  }
  return String(f);
}

function isStringer(v: object): v is { String(): string } {
  return typeof (v as { String?: unknown }).String === 'function';
}

/** Go's `%v` of `v`. */
export function formatGoValue(v: GoValue): string {
  switch (typeof v) {
    case 'string':
      return v;
    case 'number':
      return Number.isInteger(v) && Math.abs(v) < 1e21 ? String(v) : formatGoFloat(v);
    case 'bigint':
      return v.toString();
    case 'boolean':
      return v ? 'true' : 'false';
    case 'undefined':
      return '<no value>';
    case 'object':
      if (v === null) return '<nil>';
      if (isStringer(v)) return v.String();
      if (Array.isArray(v)) return `[${v.map(formatGoValue).join(' ')}]`;
      if (v instanceof Map) {
        // fmt prints a map's entries sorted by key.
        const parts = [...v.entries()]
          .sort(([a], [b]) => (String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0))
          .map(([k, x]) => `${formatGoValue(k)}:${formatGoValue(x)}`);
        return `map[${parts.join(' ')}]`;
      }
      return `{${Object.values(v)
        .filter((x) => typeof x !== 'function')
        .map(formatGoValue)
        .join(' ')}}`;
    default:
      return String(v);
  }
}

/** `fmt.Sprint`: operands side by side, a space between two only when neither is a string. */
export function goSprint(args: readonly GoValue[]): string {
  let out = '';
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += formatGoValue(a);
  }
  return out;
}

/** `fmt.Sprintln`: operands always space-separated, then a newline. */
export function goSprintln(args: readonly GoValue[]): string {
  return `${args.map(formatGoValue).join(' ')}\n`;
}

/** Go's `%q` of a string: a double-quoted Go string literal. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (!isPrint(ch)) {
      out += c > 0xffff ? `\\U${c.toString(16).padStart(8, '0')}` : `\\u${c.toString(16).padStart(4, '0')}`;
    } else out += ch;
  }
  return `${out}"`;
}

const NOT_PRINT = /[\p{C}\p{Z}]/u;

/** Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space. */
function isPrint(ch: string): boolean {
  return ch === ' ' || !NOT_PRINT.test(ch);
}

/** The Go type name `%!verb(type=value)` shows for a value. */
function goTypeName(v: GoValue): string {
  if (v === null || v === undefined) return '<nil>';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'bigint') return 'int64';
  if (Array.isArray(v)) return '[]interface {}';
  return typeof v;
}

const VERB = /%([-+# 0]*)(\d+|\*)?(?:\.(\d+|\*)?)?([a-zA-Z%])/g;

function pad(s: string, width: number | undefined, flags: string): string {
  if (width === undefined || s.length >= width) return s;
  if (flags.includes('-')) return s.padEnd(width);
  if (flags.includes('0')) {
    const sign = s[0] === '-' || s[0] === '+' ? s[0] : '';
    return sign + s.slice(sign.length).padStart(width - sign.length, '0');
  }
  return s.padStart(width);
}

function toNumber(v: GoValue): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  return undefined;
}

function signed(s: string, n: number, flags: string): string {
  if (n >= 0 && flags.includes('+')) return `+${s}`;
  if (n >= 0 && flags.includes(' ')) return ` ${s}`;
  return s;
}

/** One verb of {@link goSprintf}. */
function formatVerb(
  verb: string,
  flags: string,
  width: number | undefined,
  prec: number | undefined,
  v: GoValue,
): string {
  const n = toNumber(v);
  switch (verb) {
    case 'v':
      return pad(
        flags.includes('+') && n !== undefined ? signed(formatGoValue(v), n, flags) : formatGoValue(v),
        width,
        flags,
      );
    case 's': {
      // Go's %s takes strings, Stringers and slices of them; a number or a boolean is a bad verb.
      if (typeof v === 'number' || typeof v === 'boolean') break;
      const s = formatGoValue(v);
      return pad(prec === undefined ? s : [...s].slice(0, prec).join(''), width, flags);
    }
    case 'q':
      return pad(goQuote(typeof v === 'string' ? v : formatGoValue(v)), width, flags);
    case 'd':
      if (n === undefined || !Number.isInteger(n)) break;
      return pad(signed(String(n), n, flags), width, flags);
    case 'x':
    case 'X': {
      let s: string;
      if (n !== undefined && Number.isInteger(n)) s = (n < 0 ? '-' : '') + Math.abs(n).toString(16);
      else if (typeof v === 'string') s = Buffer.from(v).toString('hex');
      else break;
      if (flags.includes('#')) s = `0x${s}`;
      return pad(verb === 'X' ? s.toUpperCase().replace('0X', '0X') : s, width, flags);
    }
    case 'f':
    case 'F':
      if (n === undefined) break;
      return pad(signed(n.toFixed(prec ?? 6), n, flags), width, flags);
    case 'e':
    case 'E': {
      if (n === undefined) break;
      const [m, e] = n.toExponential(prec ?? 6).split('e') as [string, string];
      const exp = Number(e);
      const s = `${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
      return pad(signed(verb === 'E' ? s.toUpperCase() : s, n, flags), width, flags);
    }
    case 'g':
      if (n === undefined) break;
      return pad(
        signed(prec === undefined ? formatGoFloat(n) : String(Number(n.toPrecision(prec || 1))), n, flags),
        width,
        flags,
      );
    case 't':
      if (typeof v !== 'boolean') break;
      return pad(String(v), width, flags);
    case 'c':
      if (n === undefined) break;
      return pad(String.fromCodePoint(n), width, flags);
  }
  return `%!${verb}(${goTypeName(v)}=${formatGoValue(v)})`;
}

/**
 * `fmt.Sprintf` for the verbs a log line uses: `%v %s %q %d %x %X %f %e %g %t %c %%`, with the flags
 * `-+# 0`, a width and a precision (`*` takes them from the operands). A verb that does not fit its
 * operand, a missing operand and extra operands print as Go prints them (`%!d(string=…)`, `%!s(MISSING)`,
 * `%!(EXTRA …)`).
 */
export function goSprintf(format: string, args: readonly GoValue[]): string {
  let i = 0;
  const take = (): { value: GoValue; missing: boolean } =>
    i < args.length ? { value: args[i++], missing: false } : { value: undefined, missing: true };
  let out = format.replace(
    VERB,
    (_m, flags: string, w: string | undefined, p: string | undefined, verb: string) => {
      if (verb === '%') return '%';
      let width: number | undefined;
      if (w === '*') width = toNumber(take().value);
      else if (w !== undefined) width = Number(w);
      let prec: number | undefined;
      if (p === '*') prec = toNumber(take().value);
      else if (p !== undefined) prec = Number(p);
      else if (_m.includes('.')) prec = 0;
      const { value, missing } = take();
      if (missing) return `%!${verb}(MISSING)`;
      return formatVerb(verb, flags, width, prec, value);
    },
  );
  if (i < args.length) {
    const extra = args.slice(i).map((a) => {
      return `${goTypeName(a)}=${formatGoValue(a)}`;
    });
    out += `%!(EXTRA ${extra.join(', ')})`;
  }
  return out;
}

const HEX = '0123456789ABCDEF';

/** `template.JSEscapeString`: safe inside a JavaScript (and a JSON) string literal. */
export function goJsEscape(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    switch (ch) {
      case '\\':
        out += '\\\\';
        continue;
      case "'":
        out += "\\'";
        continue;
      case '"':
        out += '\\"';
        continue;
      case '<':
        out += '\\u003C';
        continue;
      case '>':
        out += '\\u003E';
        continue;
      case '&':
        out += '\\u0026';
        continue;
      case '=':
        out += '\\u003D';
        continue;
    }
    if (c < 0x20) out += `\\u00${HEX[c >> 4]}${HEX[c & 15]}`;
    else if (c < 0x80 || isPrint(ch)) out += ch;
    else out += `\\u${c.toString(16).toUpperCase().padStart(4, '0')}`;
  }
  return out;
}

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  '"': '&#34;',
  "'": '&#39;',
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '\0': '\uFFFD',
};

/** `template.HTMLEscapeString`. */
export function goHtmlEscape(s: string): string {
  return s.replace(/["'&<>\0]/g, (c) => HTML_ESCAPES[c]!);
}

/** `url.QueryEscape`: unreserved bytes kept, a space as `+`, every other byte `%XX`. */
export function goQueryEscape(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    if (
      (byte >= 0x30 && byte <= 0x39) ||
      (byte >= 0x41 && byte <= 0x5a) ||
      (byte >= 0x61 && byte <= 0x7a) ||
      byte === 0x2d ||
      byte === 0x2e ||
      byte === 0x5f ||
      byte === 0x7e
    ) {
      out += String.fromCharCode(byte);
    } else if (byte === 0x20) out += '+';
    else out += `%${HEX[byte >> 4]}${HEX[byte & 15]}`;
  }
  return out;
}
