/**
 * The generic patch formats the Kubernetes API server accepts, for the in-process test API server: JSON
 * merge patch (RFC 7386) and JSON patch (RFC 6902). Strategic merge patch is in
 * `test-apiserver-strategic.ts`.
 */

/** A patch the API server would reject; `status` is 400 for a malformed patch, 422 for one that does not apply. */
export class PatchError extends Error {
  readonly status: 400 | 422;

  constructor(status: 400 | 422, message: string) {
    super(message);
    this.name = 'PatchError';
    this.status = status;
  }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep copy of a JSON value. */
export function cloneJson<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

/** Applies an RFC 7386 merge patch: objects merge recursively, `null` deletes, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return cloneJson(patch);
  const result: Record<string, unknown> = isObject(target) ? cloneJson(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

function decodePointer(pointer: unknown): string[] {
  if (typeof pointer !== 'string') throw new PatchError(400, 'JSON patch path must be a string');
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new PatchError(400, `invalid JSON pointer "${pointer}"`);
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
}

/** Walks to the parent of the pointer's last token; returns the container and that token. */
function locate(doc: Json, tokens: string[], pointer: string): { parent: Json; key: string } {
  let node: Json = doc;
  for (const token of tokens.slice(0, -1)) {
    const next: Json | undefined = Array.isArray(node)
      ? node[Number(token)]
      : isObject(node)
        ? (node as Record<string, Json>)[token]
        : undefined;
    if (next === undefined) throw new PatchError(422, `path "${pointer}" does not exist`);
    node = next;
  }
  return { parent: node, key: tokens[tokens.length - 1]! };
}

function arrayIndex(arr: Json[], key: string, pointer: string, forInsert: boolean): number {
  if (forInsert && key === '-') return arr.length;
  const index = Number(key);
  const max = forInsert ? arr.length : arr.length - 1;
  if (!/^(0|[1-9][0-9]*)$/.test(key) || index > max) {
    throw new PatchError(422, `index "${key}" out of range in "${pointer}"`);
  }
  return index;
}

function read(doc: Json, pointer: unknown): Json {
  const tokens = decodePointer(pointer);
  if (tokens.length === 0) return doc;
  const { parent, key } = locate(doc, tokens, pointer as string);
  if (Array.isArray(parent)) return parent[arrayIndex(parent, key, pointer as string, false)]!;
  if (isObject(parent) && Object.hasOwn(parent, key)) return (parent as Record<string, Json>)[key]!;
  throw new PatchError(422, `path "${pointer as string}" does not exist`);
}

function remove(doc: Json, pointer: unknown): Json {
  const tokens = decodePointer(pointer);
  if (tokens.length === 0) throw new PatchError(422, 'cannot remove the whole document');
  const { parent, key } = locate(doc, tokens, pointer as string);
  if (Array.isArray(parent)) {
    const [removed] = parent.splice(arrayIndex(parent, key, pointer as string, false), 1);
    return removed!;
  }
  if (isObject(parent) && Object.hasOwn(parent, key)) {
    const removed = (parent as Record<string, Json>)[key]!;
    delete (parent as Record<string, Json>)[key];
    return removed;
  }
  throw new PatchError(422, `path "${pointer as string}" does not exist`);
}

/** Returns the new document (the root itself may be replaced). */
function add(doc: Json, pointer: unknown, value: Json, replace: boolean): Json {
  const tokens = decodePointer(pointer);
  if (tokens.length === 0) return value;
  const { parent, key } = locate(doc, tokens, pointer as string);
  if (Array.isArray(parent)) {
    const index = arrayIndex(parent, key, pointer as string, !replace);
    parent.splice(index, replace ? 1 : 0, value);
  } else if (isObject(parent)) {
    if (replace && !Object.hasOwn(parent, key)) {
      throw new PatchError(422, `path "${pointer as string}" does not exist`);
    }
    (parent as Record<string, Json>)[key] = value;
  } else {
    throw new PatchError(422, `path "${pointer as string}" does not exist`);
  }
  return doc;
}

/** Applies an RFC 6902 JSON patch (add, remove, replace, move, copy, test) to a copy of `doc`. */
export function jsonPatch(doc: unknown, operations: unknown): unknown {
  if (!Array.isArray(operations)) throw new PatchError(400, 'a JSON patch must be an array of operations');
  let result = cloneJson(doc) as Json;
  for (const op of operations as unknown[]) {
    if (!isObject(op)) throw new PatchError(400, 'a JSON patch operation must be an object');
    const value = cloneJson(op['value']) as Json;
    switch (op['op']) {
      case 'add':
        result = add(result, op['path'], value, false);
        break;
      case 'replace':
        result = add(result, op['path'], value, true);
        break;
      case 'remove':
        remove(result, op['path']);
        break;
      case 'move': {
        const moved = remove(result, op['from']);
        result = add(result, op['path'], moved, false);
        break;
      }
      case 'copy':
        result = add(result, op['path'], cloneJson(read(result, op['from'])), false);
        break;
      case 'test':
        if (JSON.stringify(read(result, op['path'])) !== JSON.stringify(value)) {
          throw new PatchError(422, `test of "${String(op['path'])}" failed`);
        }
        break;
      default:
        throw new PatchError(400, `unknown JSON patch operation "${String(op['op'])}"`);
    }
  }
  return result;
}
