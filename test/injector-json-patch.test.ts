import { describe, expect, it } from 'vitest';
import { applyJsonPatch, JsonPatchError, parsePointer } from './support/injector-json-patch.js';

describe('the test JSON Patch applier', () => {
  it('adds, replaces and removes members and array entries, appending with -', () => {
    const doc = { a: { b: [1, 2] }, c: 'x' };
    const out = applyJsonPatch(doc, [
      { op: 'add', path: '/a/b/-', value: 3 },
      { op: 'add', path: '/a/b/0', value: 0 },
      { op: 'replace', path: '/c', value: 'y' },
      { op: 'add', path: '/d', value: { e: true } },
      { op: 'remove', path: '/a/b/1' },
      { op: 'test', path: '/d/e', value: true },
    ]);
    expect(out).toEqual({ a: { b: [0, 2, 3] }, c: 'y', d: { e: true } });
    expect(doc).toEqual({ a: { b: [1, 2] }, c: 'x' });
  });

  it('unescapes ~1 and ~0 in that order', () => {
    expect(parsePointer('/a~1b/c~0d/~01')).toEqual(['a/b', 'c~d', '~1']);
    const out = applyJsonPatch({ labels: {} }, [
      { op: 'add', path: '/labels/serving.knative.dev~1revision', value: 'r' },
    ]);
    expect(out).toEqual({ labels: { 'serving.knative.dev/revision': 'r' } });
  });

  it('rejects what RFC 6902 calls errors', () => {
    expect(() => applyJsonPatch({}, [{ op: 'remove', path: '/x' }])).toThrow(JsonPatchError);
    expect(() => applyJsonPatch({}, [{ op: 'replace', path: '/x', value: 1 }])).toThrow(JsonPatchError);
    expect(() => applyJsonPatch({}, [{ op: 'add', path: '/x/y', value: 1 }])).toThrow(JsonPatchError);
    expect(() => applyJsonPatch({ a: [1] }, [{ op: 'add', path: '/a/5', value: 1 }])).toThrow(JsonPatchError);
    expect(() => applyJsonPatch({ a: 1 }, [{ op: 'test', path: '/a', value: 2 }])).toThrow(JsonPatchError);
    expect(() => applyJsonPatch({}, [{ op: 'move', path: '/a' }])).toThrow(JsonPatchError);
    expect(() => applyJsonPatch({}, [{ op: 'add', path: 'a', value: 1 }])).toThrow(JsonPatchError);
  });
});
