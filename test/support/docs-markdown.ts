/**
 * Reading the project's Markdown as a newcomer would use it: the fenced blocks they copy, the shell
 * commands in them, the tables they look things up in, and the links they follow.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ROOT } from './processes.js';

/** Folders no shipped document lives in: dependencies, build output, results, version control. */
const NOT_SHIPPED = new Set(['node_modules', 'dist', 'results', 'coverage']);

/** Every Markdown file of the project (relative to the repository), outside dependencies and build output. */
export function shippedMarkdown(root = ROOT): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.name.startsWith('.') || NOT_SHIPPED.has(e.name)) continue;
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if (e.isFile() && e.name.endsWith('.md')) found.push(relative(root, path));
    }
  };
  walk(root);
  return found.sort();
}

/** A Markdown document: its path (relative to the repository) and text. */
export interface Doc {
  readonly path: string;
  readonly text: string;
}

/** Reads a document by its path relative to the repository. */
export function readDoc(path: string): Doc {
  return { path, text: readFileSync(join(ROOT, path), 'utf8') };
}

/** A fenced code block: its info string's language, its text (list indentation removed) and first line. */
export interface CodeBlock {
  readonly doc: string;
  readonly lang: string;
  readonly text: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
}

/** Every fenced code block of a document, in order. */
export function codeBlocks(doc: Doc): CodeBlock[] {
  const lines = doc.text.split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(```+|~~~+)\s*([^\s`]*)/.exec(lines[i]!);
    if (!open) continue;
    const [, indent = '', fence = '', lang = ''] = open;
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !lines[j]!.trimStart().startsWith(fence)) {
      const l = lines[j]!;
      body.push(l.startsWith(indent) ? l.slice(indent.length) : l.trimStart());
      j++;
    }
    blocks.push({ doc: doc.path, lang, text: body.join('\n'), line: i + 1 });
    i = j;
  }
  return blocks;
}

/** The document with its fenced blocks blanked out (line count kept), for checks of the prose. */
export function prose(doc: Doc): string {
  const lines = doc.text.split('\n');
  let fence: string | undefined;
  return lines
    .map((l) => {
      const open = /^\s*(```+|~~~+)/.exec(l);
      if (fence === undefined && open) {
        fence = open[1];
        return '';
      }
      if (fence !== undefined) {
        if (l.trimStart().startsWith(fence)) fence = undefined;
        return '';
      }
      return l;
    })
    .join('\n');
}

/** One simple command of a shell block: its words, the `VAR=value` words before it, its heredoc. */
export interface ShellCommand {
  readonly argv: string[];
  readonly assignments: Readonly<Record<string, string>>;
  /** The text of a `<<'EOF'` heredoc fed to the command, if any. */
  readonly heredoc: string | undefined;
  /** The command as written (continuations joined), for messages. */
  readonly source: string;
}

/**
 * Splits a shell block into simple commands: `\` continuations joined, comments dropped, heredocs
 * collected, lists and pipelines (`&&`, `||`, `;`, `|`) split. Quotes are honoured; `$(…)` stays inside
 * the word it is in. Enough for documentation, not a shell.
 */
export function shellCommands(block: string): ShellCommand[] {
  const lines = block.split('\n');
  const out: ShellCommand[] = [];
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    while (line.endsWith('\\') && i + 1 < lines.length) line = `${line.slice(0, -1)} ${lines[++i]!.trim()}`;
    const words = shellWords(line);
    let heredoc: string | undefined;
    const marker = words.findIndex((w) => w.word.startsWith('<<'));
    if (marker >= 0) {
      const delimiter = words[marker]!.word.slice(2).replace(/^-/, '') || words[marker + 1]?.word || '';
      const body: string[] = [];
      while (i + 1 < lines.length && lines[i + 1]!.trim() !== delimiter) body.push(lines[++i]!);
      i++;
      heredoc = body.join('\n');
    }
    let current: { word: string; operator: boolean }[] = [];
    const flush = () => {
      if (current.length > 0) out.push(commandOf(current, line));
      current = [];
    };
    for (const w of words) {
      if (w.operator) flush();
      else current.push(w);
    }
    flush();
    if (heredoc !== undefined) {
      const last = out.pop()!;
      out.push({ ...last, heredoc });
    }
  }
  return out;
}

function commandOf(words: { word: string }[], source: string): ShellCommand {
  const assignments: Record<string, string> = {};
  let k = 0;
  for (; k < words.length; k++) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(words[k]!.word);
    if (!m) break;
    assignments[m[1]!] = m[2]!;
  }
  const argv = words
    .slice(k)
    .map((w) => w.word)
    .filter((w) => !w.startsWith('<<') && !/^\d?>/.test(w));
  if (argv[0] === 'export') {
    for (const a of argv.slice(1)) {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(a);
      if (m) assignments[m[1]!] = m[2]!;
    }
  }
  return { argv, assignments, heredoc: undefined, source: source.trim() };
}

/** Words of one shell line, quotes removed, with `&&`, `||`, `;` and `|` as operator words. */
function shellWords(line: string): { word: string; operator: boolean }[] {
  const words: { word: string; operator: boolean }[] = [];
  let word = '';
  let inWord = false;
  let depth = 0;
  const end = () => {
    if (inWord) words.push({ word, operator: false });
    word = '';
    inWord = false;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (depth > 0) {
      word += c;
      if (c === '(') depth++;
      else if (c === ')') depth--;
      continue;
    }
    if (c === "'") {
      const close = line.indexOf("'", i + 1);
      word += line.slice(i + 1, close < 0 ? undefined : close);
      inWord = true;
      i = close < 0 ? line.length : close;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === '\\' && j + 1 < line.length) j++;
        word += line[j];
      }
      inWord = true;
      i = j;
    } else if (c === '\\' && i + 1 < line.length) {
      word += line[++i];
      inWord = true;
    } else if (c === '$' && line[i + 1] === '(') {
      word += '$(';
      depth = 1;
      inWord = true;
      i++;
    } else if (c === '#' && !inWord) {
      break;
    } else if (/\s/.test(c)) {
      end();
    } else if (c === '&' && line[i + 1] === '&') {
      end();
      words.push({ word: '&&', operator: true });
      i++;
    } else if (c === '|') {
      end();
      if (line[i + 1] === '|') i++;
      words.push({ word: '|', operator: true });
    } else if (c === ';') {
      end();
      words.push({ word: ';', operator: true });
    } else {
      word += c;
      inWord = true;
    }
  }
  end();
  return words;
}

/** A Markdown table: its header cells and rows of cells, with the line it starts on. */
export interface Table {
  readonly doc: string;
  readonly line: number;
  readonly header: string[];
  readonly rows: string[][];
}

/** Every pipe table of a document (outside fenced blocks). */
export function tables(doc: Doc): Table[] {
  const lines = prose(doc).split('\n');
  const out: Table[] = [];
  const cells = (l: string) =>
    l
      .trim()
      .replace(/^\||\|$/g, '')
      .split(/(?<!\\)\|/)
      .map((c) => c.trim());
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!lines[i]!.trim().startsWith('|') || !/^\s*\|[\s:|-]+\|\s*$/.test(lines[i + 1]!)) continue;
    const header = cells(lines[i]!);
    const rows: string[][] = [];
    let j = i + 2;
    for (; j < lines.length && lines[j]!.trim().startsWith('|'); j++) rows.push(cells(lines[j]!));
    out.push({ doc: doc.path, line: i + 1, header, rows });
    i = j;
  }
  return out;
}

/** The text inside backticks in a piece of Markdown. */
export function codeSpans(text: string): string[] {
  return [...text.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!);
}

/** Relative link targets of a document's prose (`[text](target)`), without external URLs. */
export function relativeLinks(doc: Doc): { target: string; line: number }[] {
  const out: { target: string; line: number }[] = [];
  prose(doc)
    .split('\n')
    .forEach((l, i) => {
      for (const m of l.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!;
        if (!/^[a-z]+:/i.test(target)) out.push({ target, line: i + 1 });
      }
    });
  return out;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
export function headingAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/`/g, '')
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The anchors of every heading of a document. */
export function anchors(doc: Doc): Set<string> {
  return new Set(
    prose(doc)
      .split('\n')
      .filter((l) => /^#{1,6}\s/.test(l))
      .map((l) => headingAnchor(l.replace(/^#+\s*/, ''))),
  );
}

/** The text of a document's section: from the heading with this title to the next heading of its level or above. */
export function section(doc: Doc, title: string): string {
  const lines = doc.text.split('\n');
  const start = lines.findIndex((l) => /^#{1,6}\s/.test(l) && l.replace(/^#+\s*/, '').trim() === title);
  if (start < 0) throw new Error(`${doc.path}: no section "${title}"`);
  const level = /^#+/.exec(lines[start]!)![0].length;
  let end = start + 1;
  while (end < lines.length) {
    const h = /^(#+)\s/.exec(lines[end]!);
    if (h && h[1]!.length <= level) break;
    end++;
  }
  return lines.slice(start, end).join('\n');
}
