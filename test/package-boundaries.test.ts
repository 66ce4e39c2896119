import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support/processes.js';
import { workspaceSources } from './support/workspace-sources.js';

/** A workspace package: its directory, name and `exports` map. */
interface Workspace {
  readonly dir: string;
  readonly name: string;
  readonly exports: Record<string, unknown> | undefined;
}

const WORKSPACES: readonly Workspace[] = (
  JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] }
).workspaces.map((dir) => {
  const pkg = JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8')) as {
    name: string;
    exports?: Record<string, unknown>;
  };
  return { dir, name: pkg.name, exports: pkg.exports };
});

const SELF = fileURLToPath(import.meta.url);

/** Every file path an export entry can resolve to, by condition (`types`, `default`, a bare string). */
function targets(entry: unknown, condition = 'default'): [string, string][] {
  if (typeof entry === 'string') return [[condition, entry]];
  return Object.entries(entry as Record<string, unknown>).flatMap(([c, e]) => targets(e, c));
}

/** The `.ts` and `.mjs` files under `dir`, skipping build output and dependencies. */
function sourceFiles(dir: string): string[] {
  return (
    readdirSync(dir, { withFileTypes: true, recursive: true })
      .filter((e) => e.isFile() && /\.(ts|mjs)$/.test(e.name))
      .map((e) => join(e.parentPath, e.name))
      .filter((f) => !/[/\\](dist|node_modules|results)[/\\]/.test(relative(ROOT, f)))
      // This file names forbidden imports on purpose.
      .filter((f) => f !== SELF)
  );
}

/** Every `'@zerogate/<package>[/<subpath>]'` string in the project's own code, with where it is. */
function workspaceSpecifiers(): { file: string; name: string; subpath: string }[] {
  const dirs = [...WORKSPACES.map((w) => join(ROOT, w.dir, 'src')), join(ROOT, 'test')];
  const found: { file: string; name: string; subpath: string }[] = [];
  for (const file of dirs.filter(existsSync).flatMap(sourceFiles)) {
    // `require.resolve(...)` is how tests check what does not resolve.
    const text = readFileSync(file, 'utf8').replaceAll(/require\.resolve\(['"][^'"]*['"]\)/g, '');
    for (const m of text.matchAll(/['"](@zerogate\/[a-z-]+)(\/[^'"\s]*)?['"]/g)) {
      found.push({ file: relative(ROOT, file), name: m[1]!, subpath: `.${m[2] ?? ''}` });
    }
  }
  return found;
}

describe('package boundaries', () => {
  it('every workspace package declares an exports map whose targets exist after the build', () => {
    for (const w of WORKSPACES) {
      expect(w.exports, `${w.dir}/package.json has no exports`).toBeDefined();
      for (const [subpath, entry] of Object.entries(w.exports ?? {})) {
        for (const [condition, target] of targets(entry)) {
          expect(
            existsSync(resolve(ROOT, w.dir, target)),
            `${w.name} ${subpath} (${condition}): ${target}`,
          ).toBe(true);
        }
      }
    }
  });

  it("the project's code imports other packages only through the subpaths they export", () => {
    const byName = new Map(WORKSPACES.map((w) => [w.name, w]));
    const specifiers = workspaceSpecifiers();
    // The scan sees the packages' imports of one another (the platform's, the bench's, the tests').
    expect(specifiers.length).toBeGreaterThan(50);
    const stray = specifiers.filter(({ name, subpath }) => {
      const w = byName.get(name);
      return w === undefined || !Object.hasOwn(w.exports ?? {}, subpath);
    });
    expect(stray).toEqual([]);
    // Built files are exported only as entry points to spawn, never as modules to import.
    const distExports = WORKSPACES.flatMap((w) =>
      Object.keys(w.exports ?? {})
        .filter((s) => s.startsWith('./dist/'))
        .map((s) => `${w.name}/${s.slice(2)}`),
    );
    expect(
      distExports.every((s) => s.endsWith('/dist/main.js')),
      distExports.join(', '),
    ).toBe(true);
  });

  it("a package's internals cannot be reached by a deep import", () => {
    const require = createRequire(join(ROOT, 'packages/local/package.json'));
    expect(() => require.resolve('@zerogate/autoscaler/dist/config.js')).toThrow(
      expect.objectContaining({ code: 'ERR_PACKAGE_PATH_NOT_EXPORTED' }),
    );
    expect(() => require.resolve('@zerogate/core/dist/breaker.js')).toThrow(
      expect.objectContaining({ code: 'ERR_PACKAGE_PATH_NOT_EXPORTED' }),
    );
    expect(require.resolve('@zerogate/autoscaler/config')).toBe(
      join(ROOT, 'packages/autoscaler/dist/config-entry.js'),
    );
    expect(require.resolve('@zerogate/activator/dist/main.js')).toBe(
      join(ROOT, 'packages/activator/dist/main.js'),
    );
  });
});

describe('unit tests run the workspace packages from source', () => {
  it('every typed export has a source file', () => {
    for (const w of WORKSPACES) {
      for (const [subpath, entry] of Object.entries(w.exports ?? {})) {
        if (typeof entry !== 'object' || entry === null || !('types' in entry)) continue;
        const source = (entry as { source?: string }).source;
        expect(source ?? '', `${w.name} ${subpath} has no source condition`).toMatch(/^\.\/src\/.*\.ts$/);
        expect(existsSync(join(ROOT, w.dir, source ?? '')), `${w.name} ${subpath}: ${source}`).toBe(true);
      }
    }
  });

  it('an import of a package (or a subpath) is its src module, not the built one', async () => {
    const sources = workspaceSources(ROOT);
    expect(sources.map((s) => s.specifier)).toEqual(
      expect.arrayContaining(['@zerogate/core', '@zerogate/core/kubernetes', '@zerogate/queue-proxy/env']),
    );
    for (const { specifier, file } of sources) {
      // The same module object: the alias made the name and the src file one module.
      expect(await import(/* @vite-ignore */ specifier), specifier).toBe(
        await import(/* @vite-ignore */ file),
      );
    }
    // And this file's static imports of the core come from its src too.
    const core = await import('@zerogate/core');
    expect(core).toBe(await import('../packages/core/src/index.js'));
  });
});
