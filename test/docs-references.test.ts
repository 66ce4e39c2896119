/**
 * Comments point at the project's own documents: a citation such as `docs/queue-proxy.md §3.2` names a
 * numbered section that exists, every `§` in the code belongs to such a citation or to an RFC's, and no
 * comment cites a behaviour document outside the repository.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { prose, readDoc } from './support/docs-markdown.js';
import { ROOT } from './support/processes.js';

/** Folders searched for citations, and what is skipped inside them. */
const SOURCE_DIRS = ['packages', 'bench', 'test', 'examples', 'deploy', 'docs'];
const SKIPPED = new Set(['node_modules', 'dist', 'results', 'coverage', 'testdata']);
const CODE = /\.(ts|mts|mjs|js|sh)$/;
const TEXT = /\.(ts|mts|mjs|js|sh|md|yaml)$/;
const THIS_FILE = relative(ROOT, new URL(import.meta.url).pathname);

/** One citation group: `docs/<file>.md` or `RFC <n>`, then one or more `§<n>[.<n>…]` joined by `,`, `and`, `or`. */
const CITATION = /(?:docs\/([\w.-]+\.md)|RFC \d+)((?:\s*(?:,|and|or)?\s*§\s*\d+(?:\.\d+)*)+)/g;
const SECTION = /§\s*(\d+(?:\.\d+)*)/g;
/** The old citation of a document outside the repository; built so this file does not match itself. */
const OUTSIDE_SPEC = new RegExp(`spec ${'§'}`);

function files(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name.startsWith('.') || SKIPPED.has(e.name)) continue;
      const path = join(d, e.name);
      if (e.isDirectory()) walk(path);
      else if (TEXT.test(e.name)) out.push(relative(ROOT, path));
    }
  };
  walk(join(ROOT, dir));
  return out;
}

const ALL = [...SOURCE_DIRS.flatMap(files), ...readdirSync(ROOT).filter((f) => f.endsWith('.md'))].filter(
  (f) => f !== THIS_FILE,
);

/** The numbered sections of each document in docs/: `3.2` for a heading `### 3.2 The breaker`. */
function numberedSections(): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const name of readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md'))) {
    const numbers = new Set<string>();
    for (const line of prose(readDoc(`docs/${name}`)).split('\n')) {
      const m = /^#{2,6}\s+(\d+(?:\.\d+)*)\.?\s/.exec(line);
      if (m) numbers.add(m[1]!);
    }
    out.set(name, numbers);
  }
  return out;
}

interface Citation {
  readonly at: string;
  readonly doc: string;
  readonly section: string;
}

/** Every `docs/<file>.md §<n>` cited in the code, and every `§` that belongs to no citation. */
function scan(): { citations: Citation[]; stray: string[]; outside: string[] } {
  const citations: Citation[] = [];
  const stray: string[] = [];
  const outside: string[] = [];
  for (const file of ALL) {
    const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
    lines.forEach((line, i) => {
      const at = `${file}:${i + 1}`;
      if (OUTSIDE_SPEC.test(line)) outside.push(`${at}: ${line.trim()}`);
      if (!CODE.test(file)) return;
      let covered = line;
      for (const m of line.matchAll(CITATION)) {
        covered = covered.replace(m[0], ' '.repeat(m[0].length));
        if (m[1] === undefined) continue;
        for (const s of m[2]!.matchAll(SECTION)) citations.push({ at, doc: m[1], section: s[1]! });
      }
      if (covered.includes('§')) stray.push(`${at}: ${line.trim()}`);
    });
  }
  return { citations, stray, outside };
}

describe('citations of the documentation', () => {
  const sections = numberedSections();
  const { citations, stray, outside } = scan();

  it('finds the numbered sections and the citations it checks', () => {
    for (const name of ['queue-proxy.md', 'activator.md', 'autoscaler.md', 'wire.md']) {
      expect(sections.get(name)?.size ?? 0, name).toBeGreaterThan(5);
    }
    expect(citations.length).toBeGreaterThan(20);
  });

  it('cites only documents and sections that exist', () => {
    const missing = citations
      .filter((c) => !sections.get(c.doc)?.has(c.section))
      .map((c) => `${c.at}: docs/${c.doc} §${c.section}`);
    expect(missing).toEqual([]);
  });

  it('leaves no section sign without a document or RFC before it', () => {
    expect(stray).toEqual([]);
  });

  it('cites no behaviour document outside the repository', () => {
    expect(outside).toEqual([]);
  });

  it('numbers each section of a document once', () => {
    const duplicated: string[] = [];
    for (const name of sections.keys()) {
      const seen = new Set<string>();
      for (const line of prose(readDoc(`docs/${name}`)).split('\n')) {
        const n = /^#{2,6}\s+(\d+(?:\.\d+)*)\.?\s/.exec(line)?.[1];
        if (n === undefined) continue;
        if (seen.has(n)) duplicated.push(`docs/${name} §${n}`);
        seen.add(n);
      }
    }
    expect(duplicated).toEqual([]);
  });

  it('links every document in docs/ from docs/README.md', () => {
    const index = readFileSync(join(ROOT, 'docs/README.md'), 'utf8');
    const unlinked = [...sections.keys()].filter((n) => n !== 'README.md' && !index.includes(`](${n})`));
    expect(unlinked).toEqual([]);
  });
});
