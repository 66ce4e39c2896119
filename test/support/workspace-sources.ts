/**
 * What lets unit tests run the workspace packages as they are in `src/`, built or not: each package's
 * `exports` entry names its TypeScript file under the `source` condition, and the vitest configurations
 * alias every import of that entry (`@zerogate/core`, `@zerogate/core/kubernetes`, ...) to the file.
 * Aliases rather than a resolve condition: vitest would also hand a condition to Node in its workers,
 * where `require.resolve` and `import.meta.resolve` must keep finding the built files.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One import specifier of a workspace package and the TypeScript file it stands for in tests. */
export interface WorkspaceSource {
  readonly specifier: string;
  readonly file: string;
}

/** Every `source` entry of the workspace packages' exports under `root`, as absolute file paths. */
export function workspaceSources(root: string): WorkspaceSource[] {
  const { workspaces } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    workspaces: string[];
  };
  return workspaces.flatMap((dir) => {
    const pkg = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as {
      name: string;
      exports?: Record<string, string | { source?: string }>;
    };
    return Object.entries(pkg.exports ?? {}).flatMap(([subpath, entry]) =>
      typeof entry === 'object' && entry.source !== undefined
        ? [{ specifier: `${pkg.name}${subpath.slice(1)}`, file: join(root, dir, entry.source) }]
        : [],
    );
  });
}

/** Vite aliases, each matching one specifier exactly (`@zerogate/core` must not catch `@zerogate/core/x`). */
export function workspaceSourceAliases(root: string): { find: RegExp; replacement: string }[] {
  return workspaceSources(root).map(({ specifier, file }) => ({
    find: new RegExp(`^${specifier.replaceAll(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`),
    replacement: file,
  }));
}
