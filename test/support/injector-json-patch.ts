/**
 * A small RFC 6902 JSON Patch applier for tests: add, remove, replace and test, `-` to append to an
 * array, RFC 6901 pointers with `~0`/`~1` escapes. Returns a new document; the input is not changed.
 * Throws on any operation RFC 6902 calls an error (a missing parent, a missing member to remove or
 * replace, an index out of range, a failed test), as the API server does.
 */

/** One JSON Patch operation. */
export interface PatchOperation {
  op: string;
  path: string;
  value?: unknown;
}

/** An RFC 6902 error: the whole patch is rejected. */
export class JsonPatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JsonPatchError';
  }
}

type Container = Record<string, unknown> | unknown[];

/** Splits an RFC 6901 pointer into unescaped tokens (`~1` → `/` first, then `~0` → `~`). */
export function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/'))
    throw new JsonPatchError(`pointer ${JSON.stringify(pointer)} must start with /`);
  return pointer
    .slice(1)
    .split('/')
    .map((t) => {
      if (/~[^01]|~$/.test(t)) throw new JsonPatchError(`bad escape in pointer ${JSON.stringify(pointer)}`);
      return t.replaceAll('~1', '/').replaceAll('~0', '~');
    });
}

function isContainer(v: unknown): v is Container {
  return typeof v === 'object' && v !== null;
}

function arrayIndex(token: string, length: number, allowEnd: boolean, path: string): number {
  if (allowEnd && token === '-') return length;
  if (!/^(0|[1-9]\d*)$/.test(token))
    throw new JsonPatchError(`${path}: ${JSON.stringify(token)} is not an array index`);
  const i = Number(token);
  if (i > length || (!allowEnd && i === length)) throw new JsonPatchError(`${path}: index ${i} out of range`);
  return i;
}

/** The container holding the pointer's last token, and that token. */
function parentOf(doc: unknown, tokens: string[], path: string): [Container, string] {
  let node: unknown = doc;
  for (const token of tokens.slice(0, -1)) {
    if (Array.isArray(node)) node = node[arrayIndex(token, node.length, false, path)];
    else if (isContainer(node) && Object.hasOwn(node, token)) node = (node as Record<string, unknown>)[token];
    else throw new JsonPatchError(`${path}: no member ${JSON.stringify(token)}`);
  }
  if (!isContainer(node)) throw new JsonPatchError(`${path}: parent is not an object or array`);
  return [node, tokens[tokens.length - 1]!];
}

function get(doc: unknown, path: string): unknown {
  let node = doc;
  for (const token of parsePointer(path)) {
    if (Array.isArray(node)) node = node[arrayIndex(token, node.length, false, path)];
    else if (isContainer(node) && Object.hasOwn(node, token)) node = (node as Record<string, unknown>)[token];
    else throw new JsonPatchError(`${path}: no member ${JSON.stringify(token)}`);
  }
  return node;
}

/** Applies `patch` to a copy of `doc` and returns the copy. */
export function applyJsonPatch<T>(doc: T, patch: readonly PatchOperation[]): T {
  let root: unknown = structuredClone(doc);
  for (const operation of patch) {
    const { op, path } = operation;
    const tokens = parsePointer(path);
    const value = structuredClone(operation.value);
    if (op === 'test') {
      if (JSON.stringify(get(root, path)) !== JSON.stringify(value))
        throw new JsonPatchError(`${path}: test failed`);
      continue;
    }
    if (tokens.length === 0) {
      if (op === 'remove') throw new JsonPatchError('cannot remove the whole document');
      root = value;
      continue;
    }
    const [parent, key] = parentOf(root, tokens, path);
    if (op === 'add') {
      if (Array.isArray(parent)) parent.splice(arrayIndex(key, parent.length, true, path), 0, value);
      else parent[key] = value;
    } else if (op === 'remove' || op === 'replace') {
      if (Array.isArray(parent)) {
        const i = arrayIndex(key, parent.length, false, path);
        if (op === 'remove') parent.splice(i, 1);
        else parent[i] = value;
      } else {
        if (!Object.hasOwn(parent, key))
          throw new JsonPatchError(`${path}: no member ${JSON.stringify(key)}`);
        if (op === 'remove') delete parent[key];
        else parent[key] = value;
      }
    } else {
      throw new JsonPatchError(`unsupported op ${JSON.stringify(op)}`);
    }
  }
  return root as T;
}
