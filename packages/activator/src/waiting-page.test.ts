import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@zerogate/core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  acceptOf,
  DEFAULT_EXPECTED_WAKE_MS,
  MAX_REFRESH_MS,
  MIN_REFRESH_MS,
  prefersHtml,
  REFRESH_MARGIN_MS,
  WaitingPage,
  waitingTimes,
} from './waiting-page.js';

const VALUES = {
  revision: 'hello-00001',
  namespace: 'default',
  elapsedMs: '1234',
  elapsedSeconds: '1.2',
  refreshMs: '400',
  refreshSeconds: '1',
};

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('prefersHtml', () => {
  it.each([
    ['text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8', true],
    ['text/html', true],
    ['application/xhtml+xml', true],
    ['text/html;q=0.5, application/json', false],
    ['application/json, text/html;q=0.9', false],
    ['text/html;q=0', false],
    ['*/*', false],
    ['text/*', false],
    ['application/json', false],
    ['', false],
  ])('%j → %s', (accept, expected) => {
    expect(prefersHtml(accept)).toBe(expected);
  });

  it('is false without an Accept header', () => {
    expect(prefersHtml(undefined)).toBe(false);
    expect(acceptOf(['Host', 'x', 'ACCEPT', 'text/html'])).toBe('text/html');
    expect(acceptOf(['Host', 'x'])).toBeUndefined();
  });
});

describe('waitingTimes', () => {
  it('reloads a little after the Pod is expected: the last wake, else a second, within bounds', () => {
    expect(waitingTimes(10_000, 10_000, undefined)).toEqual({
      elapsedMs: 0,
      refreshMs: DEFAULT_EXPECTED_WAKE_MS + REFRESH_MARGIN_MS,
    });
    expect(waitingTimes(10_500, 10_000, 2000).refreshMs).toBe(1500 + REFRESH_MARGIN_MS);
    expect(waitingTimes(20_000, 10_000, 2000)).toEqual({ elapsedMs: 10_000, refreshMs: MIN_REFRESH_MS });
    expect(waitingTimes(10_000, 10_000, 60_000).refreshMs).toBe(MAX_REFRESH_MS);
  });
});

describe('WaitingPage', () => {
  it('renders the built-in page with the revision, the elapsed time and a reload, HTML-escaped', () => {
    const page = WaitingPage.fromFile('');
    const html = page.render(VALUES);
    expect(html).toContain('<title>Starting hello-00001…</title>');
    expect(html).toContain('1.2 s');
    expect(html).toContain('<meta http-equiv="refresh" content="1">');
    expect(html).toContain('}, 400);');
    expect(page.render({ ...VALUES, revision: '<b>&' })).toContain('&lt;b&gt;&amp;');
    expect(html).not.toMatch(/\{\{/);
  });

  it('reads a template file once, with every field', () => {
    dir = mkdtempSync(join(tmpdir(), 'waiting-page-'));
    const file = join(dir, 'page.html');
    writeFileSync(
      file,
      '<p>{{ revision }} in {{namespace}} for {{elapsedMs}} ms, again in {{refreshMs}}</p>',
    );
    const page = WaitingPage.fromFile(file);
    writeFileSync(file, 'changed');
    expect(page.render(VALUES)).toBe('<p>hello-00001 in default for 1234 ms, again in 400</p>');
  });

  it('refuses a template that cannot be read, or uses an unknown field, naming the variable', () => {
    expect(() => WaitingPage.fromFile('/nonexistent/page.html')).toThrow(ConfigError);
    try {
      WaitingPage.fromFile('/nonexistent/page.html');
    } catch (err) {
      expect((err as ConfigError).problems).toEqual([
        'ACTIVATOR_WAITING_PAGE_TEMPLATE: cannot read /nonexistent/page.html: ENOENT',
      ]);
    }
    expect(() => new WaitingPage('{{revision}} {{nope}}', 'page.html')).toThrow(
      /ACTIVATOR_WAITING_PAGE_TEMPLATE: page.html uses unknown fields \{\{nope\}\}/,
    );
  });
});
