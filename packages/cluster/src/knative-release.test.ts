import { describe, expect, it } from 'vitest';
import { customResourceDefinitions } from './knative-release.js';

describe('customResourceDefinitions', () => {
  it('keeps the CRDs of kustomize output and drops every other document, nested kinds included', () => {
    const rendered = [
      'apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: a.example.com\n',
      'apiVersion: v1\nkind: ConfigMap\ndata:\n  note: |\n    kind: CustomResourceDefinition\n',
      'apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: b.example.com\n',
    ].join('---\n');
    const crds = customResourceDefinitions(rendered).split('---\n');
    expect(crds.map((d) => /name: (\S+)/.exec(d)?.[1])).toEqual(['a.example.com', 'b.example.com']);
  });
});
