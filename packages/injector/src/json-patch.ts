/** RFC 6902 JSON Patch operations, as an admission response carries them. */

/** One operation of a JSON Patch; the injector only sets values, so its patches can be applied twice. */
export type JsonPatchOperation =
  | { readonly op: 'add' | 'replace' | 'test'; readonly path: string; readonly value: unknown }
  | { readonly op: 'remove'; readonly path: string };

/** A JSON Pointer (RFC 6901) to the given keys, each escaped (`~` → `~0`, `/` → `~1`). */
export function pointer(...keys: readonly (string | number)[]): string {
  return keys.map((k) => `/${String(k).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}
