/**
 * The page a browser gets at once from a revision that opted in (`zerogate.dev/waiting-page: "true"`)
 * while it has no usable Pod, instead of a blank tab that spins until the Pod is there
 * (docs/activator.md §10.2). It names the revision, counts the time since the first request woke it, and
 * reloads itself a little after the Pod is expected; the reload is a plain `GET` again, held or answered
 * like any other. The template is the built-in one or a file (`ACTIVATOR_WAITING_PAGE_TEMPLATE`), read
 * and checked once at start.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '@zerogate/core';

/** The variable naming a template file to use instead of the built-in page. */
export const WAITING_PAGE_TEMPLATE_VARIABLE = 'ACTIVATOR_WAITING_PAGE_TEMPLATE';

/** How long a wake is expected to take before one was seen for the revision. */
export const DEFAULT_EXPECTED_WAKE_MS = 1000;
/** The page reloads this long after the Pod is expected: soon enough to feel instant, late enough to find it. */
export const REFRESH_MARGIN_MS = 300;
/** Bounds of the reload delay: never a busy loop, never a long stare at a page whose Pod is long there. */
export const MIN_REFRESH_MS = 300;
export const MAX_REFRESH_MS = 5000;

/** What a template may use, each written as `{{name}}`; every value is HTML-escaped. */
export const WAITING_PAGE_FIELDS = [
  'revision',
  'namespace',
  'elapsedMs',
  'elapsedSeconds',
  'refreshMs',
  'refreshSeconds',
] as const;

type Field = (typeof WAITING_PAGE_FIELDS)[number];

/** The values one page is rendered with. */
export type WaitingPageValues = Readonly<Record<Field, string>>;

/** The built-in page: no external resources, a meta refresh for browsers without scripts. */
export const DEFAULT_WAITING_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="{{refreshSeconds}}">
<title>Starting {{revision}}…</title>
<style>body{font:16px/1.5 system-ui,sans-serif;color:#222;max-width:32em;margin:20vh auto;padding:0 1em;text-align:center}small{color:#777}</style>
</head>
<body>
<h1>Starting…</h1>
<p><strong id="zerogate-revision">{{revision}}</strong> is starting up: <span id="zerogate-elapsed">{{elapsedSeconds}} s</span></p>
<p><small>This page reloads by itself.</small></p>
<script>
(function () {
  var start = Date.now() - {{elapsedMs}};
  var elapsed = document.getElementById('zerogate-elapsed');
  setInterval(function () { elapsed.textContent = ((Date.now() - start) / 1000).toFixed(1) + ' s'; }, 100);
  setTimeout(function () { location.reload(); }, {{refreshMs}});
})();
</script>
</body>
</html>
`;

const PLACEHOLDER = /\{\{\s*([A-Za-z]+)\s*\}\}/g;

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** A waiting page template, split once into text and fields. */
export class WaitingPage {
  private readonly parts: readonly string[];
  private readonly fields: readonly Field[];

  /** Parses `template`; throws a {@link ConfigError} naming `source` for a field it does not know. */
  constructor(template: string, source = 'the built-in waiting page') {
    const parts: string[] = [];
    const fields: Field[] = [];
    const unknown: string[] = [];
    let last = 0;
    for (const m of template.matchAll(PLACEHOLDER)) {
      const name = m[1]!;
      if (!(WAITING_PAGE_FIELDS as readonly string[]).includes(name)) {
        unknown.push(name);
        continue;
      }
      parts.push(template.slice(last, m.index));
      fields.push(name as Field);
      last = m.index + m[0].length;
    }
    parts.push(template.slice(last));
    if (unknown.length > 0) {
      throw new ConfigError([
        `${WAITING_PAGE_TEMPLATE_VARIABLE}: ${source} uses unknown fields ${unknown.map((n) => `{{${n}}}`).join(', ')} (known: ${WAITING_PAGE_FIELDS.map((n) => `{{${n}}}`).join(', ')})`,
      ]);
    }
    this.parts = parts;
    this.fields = fields;
  }

  /**
   * The template named by `path`, read once; the built-in page when `path` is ''. A file that cannot be
   * read, or uses an unknown field, throws a {@link ConfigError} naming the variable.
   */
  static fromFile(path: string): WaitingPage {
    if (path === '') return new WaitingPage(DEFAULT_WAITING_PAGE);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new ConfigError([`${WAITING_PAGE_TEMPLATE_VARIABLE}: cannot read ${path}: ${reason}`]);
    }
    return new WaitingPage(text, path);
  }

  /** The page with `values` filled in, HTML-escaped. */
  render(values: WaitingPageValues): string {
    let out = this.parts[0]!;
    for (let i = 0; i < this.fields.length; i++) {
      out += escapeHtml(values[this.fields[i]!]) + this.parts[i + 1]!;
    }
    return out;
  }
}

/**
 * The page's timing: the seconds since the first request woke the revision, and when to reload: a
 * little after the Pod is expected (the revision's latest wake took as long, else a second), within
 * {@link MIN_REFRESH_MS} and {@link MAX_REFRESH_MS}.
 */
export function waitingTimes(
  now: number,
  wokenAt: number,
  lastWakeMs: number | undefined,
): { elapsedMs: number; refreshMs: number } {
  const elapsedMs = Math.max(0, now - wokenAt);
  const expected = lastWakeMs ?? DEFAULT_EXPECTED_WAKE_MS;
  const refreshMs = Math.min(
    MAX_REFRESH_MS,
    Math.max(MIN_REFRESH_MS, expected - elapsedMs + REFRESH_MARGIN_MS),
  );
  return { elapsedMs, refreshMs };
}

/**
 * True when an `Accept` header prefers HTML: `text/html` (or `application/xhtml+xml`) listed with a
 * weight above 0 and no other media type weighed higher. Wildcards do not count for HTML: `*\/*` alone
 * (curl, `fetch`) is not a browser asking for a page.
 */
export function prefersHtml(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  let html = -1;
  let other = -1;
  for (const item of accept.split(',')) {
    const [type = '', ...params] = item.split(';');
    const media = type.trim().toLowerCase();
    if (media === '') continue;
    let q = 1;
    for (const param of params) {
      const [key, value] = param.split('=');
      if (key?.trim().toLowerCase() === 'q') {
        const parsed = Number(value?.trim());
        q = Number.isFinite(parsed) ? parsed : 0;
      }
    }
    if (media === 'text/html' || media === 'application/xhtml+xml') html = Math.max(html, q);
    else if (!media.endsWith('/*')) other = Math.max(other, q);
  }
  return html > 0 && html >= other;
}

/** The `Accept` header of a request, from Node's flat `rawHeaders` list (the first one). */
export function acceptOf(raw: readonly string[]): string | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === 6 && raw[i]!.toLowerCase() === 'accept') return raw[i + 1];
  }
  return undefined;
}
