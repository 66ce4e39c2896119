/**
 * Byte classes of the HTTP/1.1 grammar as llhttp (Node's parser, strict build) applies them, as 256-entry
 * lookup tables so the scanners test a byte with one load.
 */

function table(accept: (byte: number) => boolean): Uint8Array {
  const t = new Uint8Array(256);
  for (let b = 0; b < 256; b++) if (accept(b)) t[b] = 1;
  return t;
}

const isAlpha = (b: number): boolean => (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
const isDigit = (b: number): boolean => b >= 0x30 && b <= 0x39;
/** Tests a byte against `chars`; made once per table, not per byte (these tables are built at every start). */
const inSet = (chars: string): ((b: number) => boolean) => {
  const codes = new Set([...chars].map((c) => c.charCodeAt(0)));
  return (b) => codes.has(b);
};

const TCHAR_PUNCTUATION = inSet("!#$%&'*+-.^_`|~");
/** RFC 9110 `tchar`: the bytes of a method, a header name or a chunk extension name. */
export const TOKEN = table((b) => isAlpha(b) || isDigit(b) || TCHAR_PUNCTUATION(b));

/** A header value byte: HTAB, visible ASCII, space and obs-text; every other control byte and DEL refused. */
export const HEADER_VALUE = table((b) => b === 0x09 || (b >= 0x20 && b !== 0x7f));

/** A header value byte inside a comma list (`Connection`, `Transfer-Encoding`): as above but no comma. */
export const LIST_TOKEN = table((b) => HEADER_VALUE[b] === 1 && b !== 0x2c);

const URL_PUNCTUATION = inSet('!"$%&\'()*+,-./:;<=>@[\\]^_`{|}~');
/** A request-target byte in llhttp's strict URL mode: visible ASCII except `#` and `?`; no HTAB, no obs-text. */
export const URL_CHAR = table((b) => isAlpha(b) || isDigit(b) || URL_PUNCTUATION(b));

const SERVER_PUNCTUATION = inSet("-_.!~*'()%;:&=+$,[]@");
/** An authority byte (`userinfo@host:port` and IPv6 brackets) of an absolute-form or CONNECT target. */
export const URL_SERVER = table((b) => isAlpha(b) || isDigit(b) || SERVER_PUNCTUATION(b));

/** Letters, for the scheme of an absolute-form target. */
export const ALPHA = table(isAlpha);

/** Hexadecimal digit values (0-15), 255 for any other byte: chunk sizes. */
export const HEX_VALUE = (() => {
  const t = new Uint8Array(256).fill(255);
  for (let b = 0; b < 256; b++) {
    if (isDigit(b)) t[b] = b - 0x30;
    else if (b >= 0x41 && b <= 0x46) t[b] = b - 0x41 + 10;
    else if (b >= 0x61 && b <= 0x66) t[b] = b - 0x61 + 10;
  }
  return t;
})();

/** `qdtext` of a quoted chunk extension value: HTAB, SP, `!`, `#`-`[`, `]`-`~`, obs-text. */
export const QDTEXT = table(
  (b) =>
    b === 0x09 ||
    b === 0x20 ||
    b === 0x21 ||
    (b >= 0x23 && b <= 0x5b) ||
    (b >= 0x5d && b <= 0x7e) ||
    b >= 0x80,
);

/** The byte after a backslash in a quoted chunk extension value: HTAB, SP, visible ASCII, obs-text. */
export const QUOTED_PAIR = table((b) => b === 0x09 || (b >= 0x20 && b !== 0x7f));
