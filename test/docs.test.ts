/**
 * The documents tell a newcomer only what is so: every block they would copy runs against what the
 * repository has (npm scripts, files, kustomizations, Deployments, the variables the code reads), every
 * YAML object is the one the manifests render, and every benchmark figure is one bench/RESULTS.md holds.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { status as grpcStatus } from '@grpc/grpc-js';
import type { V1Deployment, V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import { ERRORS } from '@zerogate/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import {
  anchors,
  type CodeBlock,
  codeBlocks,
  codeSpans,
  type Doc,
  prose,
  readDoc,
  relativeLinks,
  type ShellCommand,
  section,
  shellCommands,
  shippedMarkdown,
  tables,
} from './support/docs-markdown.js';
import {
  idOf,
  KUBECTL,
  type KubeObject,
  kustomizations,
  only,
  parseYamlObjects,
  readEnv,
  render,
  select,
} from './support/manifests.js';
import {
  COMPONENTS,
  type Component,
  configLoader,
  importBuilt,
  injectorSecrets,
  listenerPorts,
  ourContainer,
  type Secrets,
  secretFiles,
} from './support/manifests-components.js';
import { activatorEnv, autoscalerEnv, queueProxyEnv, ROOT } from './support/processes.js';
import { selfSignedTls, type TestTls } from './support/tls.js';

const DOCS: readonly Doc[] = shippedMarkdown().map(readDoc);
const doc = (path: string) => DOCS.find((d) => d.path === path) ?? readDoc(path);
const PACKAGE = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
};
/** Top-level entries of the repository: a word starting with one of these names a repository path. */
const TOP_LEVEL = new Set(readdirSync(ROOT).filter((e) => !e.startsWith('.') && e !== 'node_modules'));
/** Files a command reads that are the reader's own (Knative's release files, stdin, their folder). */
const READERS_FILES = new Set(['-', '.', 'serving-core.yaml', 'serving-crds.yaml']);
/** The names of the Deployments in deploy/'s YAML files, read without rendering. */
const DEPLOYMENTS = new Set(
  (function yamlFiles(dir: string): string[] {
    return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? yamlFiles(join(dir, e.name)) : e.name.endsWith('.yaml') ? [join(dir, e.name)] : [],
    );
  })(resolve(ROOT, 'deploy'))
    .flatMap((f) => parseAllDocuments(readFileSync(f, 'utf8')).map((d) => d.toJS() as KubeObject | null))
    .filter((o) => o?.kind === 'Deployment')
    .map((o) => o!.metadata.name),
);
/** Languages a fenced block may have; each is checked below. */
const BLOCK_LANGUAGES = new Set(['sh', 'yaml', 'json']);

const blocks = (d: Doc, lang: string) => codeBlocks(d).filter((b) => b.lang === lang);
const commandsOf = (d: Doc) => blocks(d, 'sh').flatMap((b) => shellCommands(b.text).map((c) => ({ b, c })));
const at = (b: CodeBlock) => `${b.doc}:${b.line}`;

/** A repository path, as built or as its source (`dist/x.js` for `src/x.ts`), or one git ignores. */
function repositoryPathExists(path: string, from = ROOT): boolean {
  const clean = path.replace(/\/$/, '');
  if (/[*?]/.test(clean)) return globMatches(clean);
  const candidates = [resolve(from, clean), resolve(ROOT, clean)];
  if (candidates.some((p) => existsSync(p))) return true;
  if (/\/dist\/.*\.js$/.test(clean)) {
    return existsSync(resolve(ROOT, clean.replace('/dist/', '/src/').replace(/\.js$/, '.ts')));
  }
  return false;
}

/** Whether a path with `*` in any of its parts matches a file of the repository. */
function globMatches(pattern: string): boolean {
  const part = (p: string) => new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
  const walk = (dir: string, parts: string[]): boolean => {
    if (parts.length === 0) return true;
    if (!existsSync(dir) || !statSync(dir).isDirectory()) return false;
    const re = part(parts[0]!);
    return readdirSync(dir).some((e) => re.test(e) && walk(join(dir, e), parts.slice(1)));
  };
  return walk(ROOT, pattern.split('/'));
}

/** A word that names a repository path: its first part is a top-level entry. */
function looksLikeRepositoryPath(word: string): boolean {
  if (!/^[\w.*-]+(\/[\w.*<>-]*)*$/.test(word) || word.includes('<')) return false;
  return TOP_LEVEL.has(word.split('/')[0]!) && (word.includes('/') || word.includes('.'));
}

// ---------------------------------------------------------------------------------------------------
// The variables the code reads
// ---------------------------------------------------------------------------------------------------

/** Environments each component's `loadConfig` is asked about, so every branch's variables are read. */
function probeEnvironments(name: Component['name']): Record<string, string>[] {
  switch (name) {
    case 'queue-proxy':
      return [queueProxyEnv(8080), queueProxyEnv(8080, { QUEUE_NATIVE_SIDECAR: 'true' })];
    case 'activator':
      return [
        activatorEnv('/endpoints.json', 'ws://127.0.0.1:1'),
        activatorEnv('', 'ws://127.0.0.1:1', { ACTIVATOR_ENDPOINTS_SOURCE: 'kubernetes' }),
      ];
    case 'autoscaler':
      return [
        autoscalerEnv('/kubeconfig'),
        autoscalerEnv('/kubeconfig', {
          AUTOSCALER_ACTUATOR: 'local',
          AUTOSCALER_PLATFORM_URL: 'http://127.0.0.1:1',
        }),
      ];
    case 'injector':
      return [{ INJECTOR_QUEUE_PROXY_IMAGE: 'example.com/queue-proxy:test' }];
  }
}

/** Variables read outside the configuration loaders: `process.env.X` in the sources, `${X:-…}` in scripts. */
function variablesInSources(): Set<string> {
  const found = new Set<string>();
  const scan = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) {
        if (!['node_modules', 'dist', 'testdata'].includes(e.name)) scan(path);
      } else if (/\.(ts|mjs|js|sh)$/.test(e.name) && !/\.test\.ts$/.test(e.name)) {
        const text = readFileSync(path, 'utf8');
        for (const m of text.matchAll(/process\.env(?:\.|\[['"])([A-Z][A-Z0-9_]*)/g)) found.add(m[1]!);
        if (e.name.endsWith('.sh'))
          for (const m of text.matchAll(/\$\{([A-Z][A-Z0-9_]*):?-/g)) found.add(m[1]!);
      }
    }
  };
  for (const dir of ['packages', 'examples', 'bench/src', 'test/support', 'test/cluster']) {
    scan(resolve(ROOT, dir));
  }
  return found;
}

/** Variables a dependency reads for us, each with the file of the dependency that reads it. */
const DEPENDENCY_VARIABLES: Readonly<Record<string, string>> = {
  KUBECONFIG: 'node_modules/@kubernetes/client-node/dist/config.js',
};

let variablesRead: Set<string>;

beforeAll(async () => {
  variablesRead = variablesInSources();
  for (const component of COMPONENTS) {
    const load = await configLoader(component);
    for (const env of probeEnvironments(component.name)) {
      for (const v of readEnv(load, env).read) variablesRead.add(v);
    }
  }
  for (const [name, file] of Object.entries(DEPENDENCY_VARIABLES)) {
    if (readFileSync(resolve(ROOT, file), 'utf8').includes(`process.env.${name}`)) variablesRead.add(name);
  }
});

// ---------------------------------------------------------------------------------------------------
// Every document
// ---------------------------------------------------------------------------------------------------

describe('every shipped document', () => {
  it('includes the READMEs of the repository, the manifests, the injector and the benchmarks', () => {
    expect(DOCS.map((d) => d.path)).toEqual(
      expect.arrayContaining([
        'README.md',
        'deploy/README.md',
        'packages/injector/README.md',
        'bench/README.md',
      ]),
    );
  });

  it.each(DOCS.map((d) => d.path))('%s: every fenced block is a shell, YAML or JSON block', (path) => {
    const bad = codeBlocks(doc(path))
      .filter((b) => !BLOCK_LANGUAGES.has(b.lang))
      .map((b) => `${at(b)}: \`\`\`${b.lang}`);
    expect(bad).toEqual([]);
  });

  it.each(
    DOCS.map((d) => d.path),
  )('%s: every npm command names a script, every node command a file', async (path) => {
    const { scenarios } = await importBuilt<{ scenarios: ReadonlyMap<string, unknown> }>(
      'bench/dist/scenarios/index.js',
    );
    const problems: string[] = [];
    for (const { b, c } of commandsOf(doc(path))) {
      const [tool, sub, ...rest] = c.argv;
      if (tool === 'npm') {
        const script = sub === 'run' ? rest[0] : sub;
        if (sub === 'ci' || sub === 'install') continue;
        if (!script || !PACKAGE.scripts[script])
          problems.push(`${at(b)}: no npm script "${script}": ${c.source}`);
        const args = c.argv.slice(c.argv.indexOf('--') + 1);
        const scenario = args.find((a) => !a.startsWith('-'));
        if (script === 'bench' && c.argv.includes('--') && scenario && !scenarios.has(scenario))
          problems.push(`${at(b)}: no bench scenario "${scenario}"`);
      }
      // kubectl's words name resources (`deploy/activator`); its -k and -f paths are checked below.
      for (const word of tool === 'kubectl' ? [] : c.argv.flatMap((w) => w.split(/\s+/))) {
        if (looksLikeRepositoryPath(word) && !repositoryPathExists(word))
          problems.push(`${at(b)}: ${word} does not exist: ${c.source}`);
      }
      const nodeScripts = c.argv.flatMap((w, i, all) =>
        w.split(/\s+/)[0] === 'node'
          ? [w.includes(' ') ? w.split(/\s+/).find((x, k) => k > 0 && !x.startsWith('-')) : all[i + 1]]
          : [],
      );
      for (const script of nodeScripts) {
        if (script && !repositoryPathExists(script))
          problems.push(`${at(b)}: node runs ${script}, which does not exist`);
      }
    }
    expect(problems).toEqual([]);
  });

  it.each(
    DOCS.map((d) => d.path),
  )('%s: every kubectl -k/-f path is a kustomization or file of the repository', (path) => {
    const problems: string[] = [];
    for (const { b, c } of commandsOf(doc(path))) {
      if (c.argv[0] !== 'kubectl') continue;
      for (let i = 1; i < c.argv.length; i++) {
        const flag = c.argv[i]!;
        const value = ['-k', '-f', '--kustomize', '--filename'].includes(flag) ? c.argv[i + 1] : undefined;
        if (value === undefined || READERS_FILES.has(value)) continue;
        const full = resolve(ROOT, value);
        const kustomize = flag === '-k' || flag === '--kustomize';
        const ok = kustomize
          ? existsSync(full) && statSync(full).isDirectory() && existsSync(join(full, 'kustomization.yaml'))
          : existsSync(full);
        if (!ok)
          problems.push(`${at(b)}: ${flag} ${value} is not ${kustomize ? 'a kustomization' : 'a file'}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it.each(
    DOCS.map((d) => d.path),
  )('%s: every variable in a variable table or set by a command is read by the code', (path) => {
    const d = doc(path);
    const named: string[] = [];
    for (const t of tables(d)) {
      t.header.forEach((h, col) => {
        if (!/variable$/i.test(h.trim())) return;
        for (const row of t.rows) named.push(...codeSpans(row[col] ?? ''));
      });
    }
    // Variables set for our own commands (not, say, for `go build`).
    for (const { c } of commandsOf(d)) {
      if (c.argv[0] === 'node' || c.argv[0] === 'npm') named.push(...Object.keys(c.assignments));
    }
    const unknown = named.filter((v) => /^[A-Z][A-Z0-9_]*$/.test(v) && !variablesRead.has(v));
    expect([...new Set(unknown)]).toEqual([]);
  });

  it.each(
    DOCS.map((d) => d.path),
  )('%s: every relative link and repository path named in the prose exists', (path) => {
    const d = doc(path);
    const from = dirname(resolve(ROOT, path));
    const problems: string[] = [];
    for (const { target, line } of relativeLinks(d)) {
      const [file, anchor] = target.split('#');
      if (file && !existsSync(resolve(from, file))) problems.push(`${path}:${line}: link ${target}`);
      if (anchor) {
        const linked = file ? readDoc(join(dirname(path), file)) : d;
        if (file && !file.endsWith('.md')) continue;
        if (!anchors(linked).has(anchor)) problems.push(`${path}:${line}: no heading for #${anchor}`);
      }
    }
    for (const span of codeSpans(prose(d))) {
      // A span of one word; the words of a longer one (a command, an example) name other things.
      for (const word of /\s/.test(span) ? [] : [span]) {
        if (!looksLikeRepositoryPath(word) && !(/^src\//.test(word) && path.startsWith('bench/'))) continue;
        // `deploy/<name>`: kubectl's name of a Deployment the manifests define, not a path.
        const deployment = /^deploy\/([a-z0-9-]+)$/.exec(word)?.[1];
        if (deployment && !existsSync(resolve(ROOT, word)) && DEPLOYMENTS.has(deployment)) continue;
        if (!repositoryPathExists(word, from) && !gitIgnored(word))
          problems.push(`${path}: \`${word}\` does not exist`);
      }
    }
    expect(problems).toEqual([]);
  });

  it.each(
    DOCS.map((d) => d.path),
  )('%s: every JSON block parses, and inputs load through the code that reads them', async (path) => {
    const { parseEndpointsDocument } = await importBuilt<{ parseEndpointsDocument: (t: string) => unknown }>(
      'packages/activator/dist/endpoint-source-file.js',
    );
    const { parseTrace, replayTrace } = await importBuilt<{
      parseTrace: (v: unknown) => unknown;
      replayTrace: (t: unknown) => object[];
    }>('packages/autoscaler/dist/trace-replay.js');
    const problems: string[] = [];
    for (const b of blocks(doc(path), 'json')) {
      // `…` marks an excerpt of output (a log line); everything else must be JSON as written.
      if (b.text.includes('…')) continue;
      let value: Record<string, unknown>;
      try {
        value = JSON.parse(b.text) as Record<string, unknown>;
      } catch (err) {
        problems.push(`${at(b)}: ${(err as Error).message}`);
        continue;
      }
      try {
        const revisions = value['revisions'] as Record<string, unknown>[] | undefined;
        if (revisions?.[0] && 'endpoints' in revisions[0]) parseEndpointsDocument(b.text);
        if ('samples' in value) {
          const lines = replayTrace(parseTrace(value));
          const replayLine = blocks(doc(path), 'json')
            .map((x) => JSON.parse(x.text.includes('…') ? '{}' : x.text) as object)
            .find((x) => 'desired' in x);
          if (replayLine)
            expect(Object.keys(replayLine).sort(), `${at(b)}: replay output`).toEqual(
              Object.keys(lines[0]!).sort(),
            );
        }
      } catch (err) {
        problems.push(`${at(b)}: ${(err as Error).message}`);
      }
    }
    expect(problems).toEqual([]);
  });
});

/** Whether git ignores the path (a generated folder such as bench/results/). */
function gitIgnored(path: string): boolean {
  const ignore = readFileSync(resolve(ROOT, '.gitignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  return ignore.some(
    (p) => p.includes('/') && `${path.replace(/\/?$/, '/')}`.startsWith(p.replace(/\/?$/, '/')),
  );
}

// ---------------------------------------------------------------------------------------------------
// YAML against the manifests
// ---------------------------------------------------------------------------------------------------

/** Every object the manifests render (the Knative component over its fixture). */
const renderedObjects = () =>
  kustomizations()
    .filter((k) => k.kind === 'Kustomization')
    .flatMap((k) => render(k.dir));

/** Where a documented value differs from the rendered one; `<…>` placeholders match anything. */
function differences(documented: unknown, actual: unknown, path = ''): string[] {
  if (typeof documented === 'string' && /^<[^>]+>$/.test(documented)) return [];
  if (Array.isArray(documented)) {
    if (!Array.isArray(actual) || actual.length !== documented.length)
      return [`${path}: ${JSON.stringify(documented)} ≠ ${JSON.stringify(actual)}`];
    return documented.flatMap((d, i) => differences(d, actual[i], `${path}[${i}]`));
  }
  if (documented !== null && typeof documented === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual))
      return [`${path}: ${JSON.stringify(documented)} ≠ ${JSON.stringify(actual)}`];
    return Object.entries(documented).flatMap(([k, v]) =>
      differences(v, (actual as Record<string, unknown>)[k], `${path}.${k}`),
    );
  }
  return documented === actual ? [] : [`${path}: ${JSON.stringify(documented)} ≠ ${JSON.stringify(actual)}`];
}

/** Renders a documented kustomization, its references to this repository and Knative's release resolved. */
function renderDocumented(kustomization: Record<string, unknown>): KubeObject[] {
  const dir = mkdtempSync(join(tmpdir(), 'zerogate-docs-'));
  try {
    const place = (entry: string): string => {
      const inRepo = /(?:^|\/)zerogate\/(deploy\/.*)$/.exec(entry);
      if (inRepo) return relative(dir, resolve(ROOT, inRepo[1]!));
      if (entry === 'serving-core.yaml') {
        writeFileSync(
          join(dir, entry),
          readFileSync(resolve(ROOT, 'deploy/testdata/knative-serving/serving-core.yaml')),
        );
        return entry;
      }
      throw new Error(`a documented kustomization refers to ${entry}, which the tests cannot place`);
    };
    const copy = { ...kustomization };
    for (const key of ['resources', 'components']) {
      if (Array.isArray(copy[key])) copy[key] = (copy[key] as string[]).map(place);
    }
    writeFileSync(join(dir, 'kustomization.yaml'), JSON.stringify(copy));
    return render(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe.skipIf(!KUBECTL)('YAML blocks against the manifests and the code', () => {
  it.each(
    DOCS.map((d) => d.path),
  )('%s: every YAML block parses and says what the manifests render', async (path) => {
    const { parsePlatformConfig } = await importBuilt<{
      parsePlatformConfig: (
        text: string,
        file: string,
      ) => { services: { revisions: { command: string[]; env: Record<string, string> }[] }[] };
    }>('packages/local/dist/config.js');
    const rendered = renderedObjects();
    const problems: string[] = [];
    for (const b of blocks(doc(path), 'yaml')) {
      const docs = parseAllDocuments(b.text);
      const errors = docs.flatMap((d) => d.errors.map((e) => e.message));
      if (errors.length > 0) {
        problems.push(`${at(b)}: ${errors.join('; ')}`);
        continue;
      }
      for (const value of docs.map((d) => d.toJS() as Record<string, unknown> | null)) {
        if (!value) continue;
        if (value['kind'] === 'Kustomization' || 'resources' in value) {
          // A kustomization the reader writes: it renders, and over Knative gives what the fixture gives.
          const objects = renderDocumented(value);
          if ((value['components'] as string[] | undefined)?.some((c) => c.endsWith('overlays/knative')))
            expect(objects, at(b)).toEqual(render('deploy/testdata/knative-serving'));
          else checkRegistryKustomization(b, value, objects, problems);
        } else if (typeof value['apiVersion'] === 'string' && typeof value['kind'] === 'string') {
          const meta = value['metadata'] as { name?: string; namespace?: string } | undefined;
          const match = rendered.find(
            (o) =>
              o.apiVersion === value['apiVersion'] &&
              o.kind === value['kind'] &&
              o.metadata.name === meta?.name &&
              (meta?.namespace === undefined || o.metadata.namespace === meta.namespace),
          );
          if (!match)
            problems.push(`${at(b)}: ${value['kind']} ${meta?.name} is in no manifest: point at the file`);
          else problems.push(...differences(value, match).map((d) => `${at(b)}: ${idOf(match)} ${d}`));
        } else if ('services' in value) {
          // The one-machine platform's configuration: it loads, and each app reads the variables it is given.
          const config = parsePlatformConfig(b.text, resolve(ROOT, 'zerogate.yaml'));
          for (const r of config.services.flatMap((x) => x.revisions)) {
            const script = r.command[1] ?? '';
            const file = resolve(ROOT, script);
            const source = existsSync(file) ? readFileSync(file, 'utf8') : '';
            for (const v of Object.keys(r.env))
              if (!source.includes(`process.env.${v}`))
                problems.push(`${at(b)}: ${script} does not read ${v}`);
          }
        } else {
          problems.push(`${at(b)}: a YAML block that is neither an object of the manifests nor a known file`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('the certificate commands name the Secret, DNS name, namespace and webhook the base uses', () => {
    const base = render('deploy/base');
    const webhook = only<V1MutatingWebhookConfiguration>(
      base,
      'MutatingWebhookConfiguration',
      'zerogate-injector',
    );
    const service = webhook.webhooks![0]!.clientConfig.service!;
    const dnsName = `${service.name}.${service.namespace}.svc`;
    const injector = only<V1Deployment>(base, 'Deployment', 'injector', service.namespace);
    const secretName = injector.spec!.template.spec!.volumes!.find((v) => v.secret)!.secret!.secretName;
    only(base, 'Service', service.name, service.namespace);

    const section_ = doc('deploy/README.md');
    const commands = commandsOf(section_).map(({ c }) => c);
    const certificate = commands
      .flatMap((c) => (c.heredoc ? parseYamlObjects(c.heredoc, 'heredoc') : []))
      .find((o) => o.kind === 'Certificate') as KubeObject & {
      spec: { secretName: string; dnsNames: string[] };
    };
    expect(certificate.metadata.namespace).toBe(service.namespace);
    expect(certificate.spec.secretName).toBe(secretName);
    expect(certificate.spec.dnsNames).toEqual([dnsName]);
    const annotate = commands.find((c) => c.argv[1] === 'annotate')!;
    expect(annotate.argv.slice(2)).toEqual([
      'mutatingwebhookconfiguration',
      webhook.metadata.name,
      `cert-manager.io/inject-ca-from=${service.namespace}/${certificate.metadata.name}`,
    ]);

    const secret = commands.find((c) => c.argv.includes('secret') && c.argv.includes('tls'))!;
    expect(secret.argv.slice(0, 6)).toEqual(['kubectl', '-n', service.namespace, 'create', 'secret', 'tls']);
    expect(secret.argv[6]).toBe(secretName);
    const openssl = commands.filter((c) => c.argv[0] === 'openssl').map((c) => c.argv.join(' '));
    expect(openssl.join('\n')).toContain(`/CN=${dnsName}`);
    expect(openssl.join('\n')).toContain(`subjectAltName=DNS:${dnsName}`);
    const patch = commands.find(
      (c) => c.argv[1] === 'patch' && c.argv[2] === 'mutatingwebhookconfiguration',
    )!;
    expect(patch.argv[3]).toBe(webhook.metadata.name);
  });

  it('every Deployment a kubectl command names is one the manifests have, in that namespace', () => {
    const rendered = renderedObjects();
    const problems: string[] = [];
    for (const d of DOCS) {
      for (const { b, c } of commandsOf(d)) {
        if (c.argv[0] !== 'kubectl') continue;
        const n = c.argv.indexOf('-n');
        const namespace = n > 0 ? c.argv[n + 1] : undefined;
        for (const [i, word] of c.argv.entries()) {
          if (['-k', '-f'].includes(c.argv[i - 1] ?? '')) continue;
          const m = /^(?:deploy|deployment)\/([a-z0-9-]+)$/.exec(word);
          if (m && select(rendered, 'Deployment', m[1]!, namespace).length === 0)
            problems.push(`${at(b)}: no Deployment ${namespace ?? '*'}/${m[1]}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('the standalone uninstall removes the webhook first, then what the injector and the autoscaler created', async () => {
    const injector = await importBuilt<{ MANAGED_BY_LABEL: string; MANAGED_BY: string }>(
      'packages/injector/dist/revision-objects.js',
    );
    const autoscaler = await importBuilt<{ MANAGED_BY_LABEL: string; MANAGED_BY: string }>(
      'packages/autoscaler/dist/actuator-kubernetes.js',
    );
    const text = section(doc('deploy/README.md'), 'Uninstall');
    const commands = codeBlocks({ path: 'deploy/README.md', text })
      .filter((b) => b.lang === 'sh')
      .flatMap((b) => shellCommands(b.text));
    const index = (test: (c: ShellCommand) => boolean) => commands.findIndex(test);
    const deletes = (c: ShellCommand) => c.argv[0] === 'kubectl' && c.argv[1] === 'delete';
    const selects = (c: ShellCommand, label: string, value: string) =>
      deletes(c) && c.argv.includes(`${label}=${value}`) && c.argv.includes('-A');

    const webhook = index((c) => deletes(c) && c.argv.includes('mutatingwebhookconfiguration'));
    const base = index((c) => deletes(c) && c.argv.includes('deploy/base'));
    const injected = index((c) => selects(c, injector.MANAGED_BY_LABEL, injector.MANAGED_BY));
    const slices = index((c) => selects(c, autoscaler.MANAGED_BY_LABEL, autoscaler.MANAGED_BY));
    expect(webhook).toBeGreaterThanOrEqual(0);
    expect(base).toBeGreaterThan(webhook);
    expect(injected).toBeGreaterThan(webhook);
    expect(slices).toBeGreaterThan(webhook);
    const kinds = (i: number) => commands[i]!.argv[2]!.split(',').map((k) => k.split('.')[0]);
    expect(kinds(injected)).toEqual(expect.arrayContaining(['services', 'revisions']));
    expect(kinds(slices)).toEqual(['endpointslices']);
  });
});

/** The README's kustomization for another registry: every image of ours, the injected one included, moves. */
function checkRegistryKustomization(
  b: CodeBlock,
  kustomization: Record<string, unknown>,
  objects: KubeObject[],
  problems: string[],
): void {
  const images = (kustomization['images'] as { name: string; newName: string }[] | undefined) ?? [];
  const registries = new Set(images.map((i) => i.newName.split('/')[0]));
  for (const d of select<V1Deployment>(objects, 'Deployment')) {
    for (const c of d.spec!.template.spec!.containers) {
      const named = [c.image ?? '', c.env?.find((e) => e.name === 'INJECTOR_QUEUE_PROXY_IMAGE')?.value ?? ''];
      for (const image of named.filter((i) => i.startsWith('ghcr.io/zerogate/')))
        problems.push(`${at(b)}: ${idOf(d)} ${c.name} still names ${image}`);
      for (const image of named.filter((i) => i !== '' && registries.size > 0))
        if (!registries.has(image.split('/')[0])) problems.push(`${at(b)}: ${idOf(d)} names ${image}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// README's claims
// ---------------------------------------------------------------------------------------------------

describe('README.md', () => {
  const readme = () => doc('README.md');
  const results = () => readFileSync(resolve(ROOT, 'bench/RESULTS.md'), 'utf8');
  const numbersIn = (text: string) =>
    new Set([...text.matchAll(/(?<![\w.])\d+(?:\.\d+)?(?![\w.])/g)].map((m) => m[0]));

  it('quotes only figures bench/RESULTS.md holds, with the date of their run', () => {
    const bench = prose({ path: 'README.md', text: section(readme(), 'Benchmark it') });
    const held = numbersIn(results().replace(/[×+]/g, ' '));
    // A figure: a number with a unit of measure or a ratio, or a run's date.
    const figures = [...bench.matchAll(/(\d+(?:\.\d+)?)(?:–(\d+(?:\.\d+)?))?\s?(×|ms|%|MiB)/g)].flatMap(
      (m) => [m[1]!, ...(m[2] ? [m[2]] : [])],
    );
    const dates = [...bench.matchAll(/\d{4}-\d{2}-\d{2}/g)].map((m) => m[0]);
    expect(figures.filter((f) => !held.has(f))).toEqual([]);
    expect(dates.filter((d) => !results().includes(`on ${d}`))).toEqual([]);
    if (figures.length > 0)
      expect(dates.length, 'figures quoted without the run they come from').toBeGreaterThan(0);
  });

  it('quotes no measured ratio or approximation anywhere else', () => {
    const rest = prose({
      path: 'README.md',
      text: readme().text.replace(section(readme(), 'Benchmark it'), ''),
    });
    expect([...rest.matchAll(/(?:≈|~)\s?\d[\d.]*\s?\S*|\d+\.\d+×/g)].map((m) => m[0])).toEqual([]);
  });

  it('gives every gRPC status its name and number as gRPC defines them, NOT_FOUND for an unknown revision', () => {
    const text = section(readme(), 'gRPC status of refused calls');
    const named = [...text.matchAll(/`([A-Z_]+)` \((\d+)\)/g)];
    expect(named.length).toBeGreaterThan(0);
    for (const [, name, code] of named) {
      expect(grpcStatus[name as keyof typeof grpcStatus], name).toBe(Number(code));
    }
    const row = text.split('\n').find((l) => l.startsWith('| unknown revision'))!;
    expect(row).toContain(`(${ERRORS.UNKNOWN_REVISION.grpc})`);
    expect(row).toContain('`NOT_FOUND`');
  });

  it('states the Knative Serving release the component is tested against, and no untested range', () => {
    const fixture = parseYamlObjects(
      readFileSync(resolve(ROOT, 'deploy/testdata/knative-serving/serving-core.yaml'), 'utf8'),
      'serving-core.yaml',
    );
    const version = fixture[0]!.metadata.labels?.['app.kubernetes.io/version'];
    const minor = version?.split('.').slice(0, 2).join('.');
    for (const path of ['README.md', 'deploy/README.md']) {
      const text = prose(doc(path)).replace(/\s+/g, ' ');
      expect(text, path).toContain(`tested against Knative Serving ${minor}`);
      expect(text.match(/Knative(?: Serving)? \d+\.\d+\s?[–-]\s?\d+\.\d+/g) ?? [], path).toEqual([]);
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// docs/wire.md's table of refusals
// ---------------------------------------------------------------------------------------------------

describe('docs/wire.md', () => {
  it('lists every coded error with its status, body and gRPC status as the code sends them, and no other', () => {
    const wire = doc('docs/wire.md');
    const table = tables({ ...wire, text: section(wire, '6. Status codes and bodies') })[0]!;
    expect(table.header.slice(0, 5)).toEqual([
      'code',
      'status',
      'body',
      'gRPC status',
      '`Zerogate-Error` reason',
    ]);
    const listed = table.rows.map((row) => row.slice(0, 5));
    const sent = Object.entries(ERRORS).map(([code, e]) => {
      const reason = (e as { reason?: string }).reason;
      return [
        `\`${code}\``,
        String(e.status),
        e.body === '' ? 'empty' : `\`${e.body.replaceAll('\n', '\\n')}\``,
        `\`${grpcStatus[e.grpc]}\` (${e.grpc})`,
        reason === undefined ? '—' : `\`${reason}\``,
      ];
    });
    expect(listed).toEqual(sent);
  });
});

// ---------------------------------------------------------------------------------------------------
// deploy/README.md's reference tables
// ---------------------------------------------------------------------------------------------------

describe.skipIf(!KUBECTL)('deploy/README.md', () => {
  let tls: TestTls;
  let secrets: Secrets;
  beforeAll(() => {
    tls = selfSignedTls('injector.zerogate-system.svc');
    secrets = injectorSecrets(tls);
  });
  afterAll(() => tls?.remove());

  const readme = () => doc('deploy/README.md').text;
  const documented = (name: string) => readme().includes(`\`${name}\``);

  it.each(
    COMPONENTS.map((c) => c.name),
  )('documents every variable the %s reads, and its ports', async (name) => {
    const component = COMPONENTS.find((c) => c.name === name)!;
    let env: Record<string, string>;
    let files = new Map<string, Buffer>();
    if (name === 'queue-proxy') {
      // Knative's environment, with the ports Zerogate lets tests move left at their defaults.
      const {
        QUEUE_BIND_ADDRESS: _b,
        QUEUE_ADMIN_PORT: _a,
        QUEUE_STATS_PORT: _s,
        QUEUE_METRICS_PORT: _m,
        ...knative
      } = queueProxyEnv(8080, { QUEUE_SERVING_PORT: '8012' });
      env = knative;
    } else {
      const c = ourContainer('deploy/base', name);
      env = c.env;
      files = secretFiles(c.template.spec, c.container, secrets);
    }
    const load = await configLoader(component, files);
    const r = readEnv(load, env);
    expect(r.read.filter((v) => !documented(v))).toEqual([]);
    for (const [listener, port] of Object.entries(listenerPorts(component, r.config))) {
      expect(readme(), `${name} ${listener} port`).toContain(String(port));
    }
  });

  it('documents every annotation and label the components read', async () => {
    const { AUTOSCALING_ANNOTATIONS } = await importBuilt<{
      AUTOSCALING_ANNOTATIONS: Record<string, string[]>;
    }>('packages/autoscaler/dist/autoscaler-config.js');
    const names = Object.values(AUTOSCALING_ANNOTATIONS).map((spellings) => spellings[0]!);
    const injector = await importBuilt<{ ANNOTATIONS: Record<string, string>; INJECT_LABEL: string }>(
      'packages/injector/dist/revision-settings.js',
    );
    names.push(...Object.values(injector.ANNOTATIONS), injector.INJECT_LABEL);
    expect(names.filter((n) => !documented(n))).toEqual([]);
  });
});
