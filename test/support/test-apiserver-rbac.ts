/**
 * RBAC for the in-process test API server: Roles, ClusterRoles and their bindings decide each request
 * as the API server's RBAC authorizer does (`plugin/pkg/auth/authorizer/rbac/rbac.go`), and a denied
 * request gets the 403 Forbidden the real server words (`endpoints/handlers/responsewriters`).
 */
import type { KubernetesObject, RbacV1Subject, V1PolicyRule, V1RoleRef } from '@kubernetes/client-node';
import type { ApiCall } from './manifests.js';
import { StatusError, statusBody } from './test-apiserver-store.js';

/** What RBAC decides on: the request's attributes (`authorizer.Attributes` of a resource request). */
export type RequestAttributes = ApiCall;

interface Binding {
  /** The namespace a RoleBinding grants in; undefined for a ClusterRoleBinding (everywhere). */
  readonly namespace: string | undefined;
  readonly rules: readonly V1PolicyRule[];
}

interface RbacObject extends KubernetesObject {
  rules?: V1PolicyRule[];
  subjects?: RbacV1Subject[];
  roleRef?: V1RoleRef;
}

const has = (list: readonly string[] | undefined, value: string) =>
  list !== undefined && (list.includes('*') || list.includes(value));

/** `ResourceMatches`: `*`, `resource/subresource`, or `*\/subresource`. */
function resourceMatches(rule: V1PolicyRule, attrs: RequestAttributes): boolean {
  const combined = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource;
  return (rule.resources ?? []).some(
    (r) => r === '*' || r === combined || (attrs.subresource !== undefined && r === `*/${attrs.subresource}`),
  );
}

/** `RuleAllows` for a resource request. */
function ruleAllows(rule: V1PolicyRule, attrs: RequestAttributes): boolean {
  if (!has(rule.verbs, attrs.verb) || !has(rule.apiGroups, attrs.group) || !resourceMatches(rule, attrs)) {
    return false;
  }
  const names = rule.resourceNames ?? [];
  return names.length === 0 || (attrs.name !== undefined && names.includes(attrs.name));
}

/**
 * The RBAC authorizer of one user: the rules every binding of it grants, where. Built once from the
 * RBAC objects; unknown roles bind nothing, as a binding to a missing role grants nothing.
 */
export class RbacAuthorizer {
  /** The authenticated user name, `system:serviceaccount:<namespace>:<name>` for a service account. */
  readonly user: string;
  private readonly groups: readonly string[];
  private readonly bindings: Binding[] = [];

  /**
   * `objects` may hold anything (a rendered kustomization, say); only Roles, ClusterRoles, RoleBindings
   * and ClusterRoleBindings count. A service account user gets the groups Kubernetes gives it
   * (`system:serviceaccounts`, `system:serviceaccounts:<namespace>`) besides `groups`.
   */
  constructor(objects: readonly KubernetesObject[], user: string, groups: readonly string[] = []) {
    this.user = user;
    const sa = /^system:serviceaccount:([^:]+):[^:]+$/.exec(user);
    this.groups = [
      ...groups,
      'system:authenticated',
      ...(sa ? ['system:serviceaccounts', `system:serviceaccounts:${sa[1]}`] : []),
    ];
    const rbac = objects.filter((o): o is RbacObject => o.apiVersion === 'rbac.authorization.k8s.io/v1');
    const role = (ref: V1RoleRef, namespace: string | undefined) =>
      rbac.find(
        (o) =>
          o.kind === ref.kind &&
          o.metadata?.name === ref.name &&
          (ref.kind === 'ClusterRole' || o.metadata?.namespace === namespace),
      );
    for (const b of rbac) {
      if (b.kind !== 'RoleBinding' && b.kind !== 'ClusterRoleBinding') continue;
      const namespace = b.kind === 'RoleBinding' ? (b.metadata?.namespace ?? 'default') : undefined;
      if (!b.roleRef || !(b.subjects ?? []).some((s) => this.appliesTo(s, namespace))) continue;
      const r = role(b.roleRef, namespace);
      if (r) this.bindings.push({ namespace, rules: r.rules ?? [] });
    }
  }

  /** Whether some binding of the user allows the request. */
  allows(attrs: RequestAttributes): boolean {
    return this.bindings.some(
      (b) =>
        (b.namespace === undefined || b.namespace === attrs.namespace) &&
        b.rules.some((rule) => ruleAllows(rule, attrs)),
    );
  }

  /** The 403 the API server answers a request RBAC denies. */
  forbidden(attrs: RequestAttributes): StatusError {
    return forbiddenError(this.user, attrs);
  }

  /** `appliesTo` of `rbac.go`: a ServiceAccount subject of a RoleBinding defaults to its namespace. */
  private appliesTo(subject: RbacV1Subject, bindingNamespace: string | undefined): boolean {
    switch (subject.kind) {
      case 'User':
        return subject.name === this.user;
      case 'Group':
        return this.groups.includes(subject.name);
      case 'ServiceAccount': {
        const namespace = subject.namespace || bindingNamespace;
        return namespace !== undefined && `system:serviceaccount:${namespace}:${subject.name}` === this.user;
      }
      default:
        return false;
    }
  }
}

/**
 * The real API server's 403 for a resource request: `deployments.apps "d" is forbidden: User "u" cannot
 * patch resource "deployments/scale" in API group "apps" in the namespace "ns"`.
 */
export function forbiddenError(user: string, attrs: RequestAttributes): StatusError {
  const { group, resource, subresource, namespace, name, verb } = attrs;
  const qualifiedResource = group === '' ? resource : `${resource}.${group}`;
  const combined = subresource ? `${resource}/${subresource}` : resource;
  const scope = namespace === undefined ? 'at the cluster scope' : `in the namespace "${namespace}"`;
  const reason = `User "${user}" cannot ${verb} resource "${combined}" in API group "${group}" ${scope}`;
  const message =
    name === undefined
      ? `${qualifiedResource} is forbidden: ${reason}`
      : `${qualifiedResource} "${name}" is forbidden: ${reason}`;
  return new StatusError(
    statusBody(403, message, 'Forbidden', { ...(name === undefined ? {} : { name }), group, kind: resource }),
  );
}
