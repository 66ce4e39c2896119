/**
 * Replays a Dockerfile's build without Docker, to show that the image builds and runs in principle: each
 * stage gets its own folder standing for its root filesystem, COPY copies from a clean checkout (the
 * files a commit would hold: tracked and new files, never ignored ones such as dist/ or node_modules/)
 * or from an earlier stage, and RUN runs its command there.
 *
 * One step is stood in for: the build stage's full `npm ci` (every dev dependency, a large download)
 * is replaced by links to this repository's node_modules, installed from the same lockfile, with the
 * workspace links pointing into the stage. The production install of the deps stage runs for real.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { dirname, isAbsolute, join, posix, relative, resolve } from 'node:path';
import {
  type Dockerfile,
  type DockerInstruction,
  type DockerStage,
  finalStage,
} from './manifests-dockerfile.js';
import { ROOT } from './processes.js';

/** The files of a clean checkout of the working tree, relative to the repository, as a set. */
export function cleanCheckout(): Set<string> {
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return new Set(out.split('\0').filter((f) => f !== '' && existsSync(resolve(ROOT, f))));
}

/** The sources and destination of a COPY (`COPY a b dest/`), in the shell-less form. */
export function copyArgs(instruction: DockerInstruction): { sources: string[]; dest: string } {
  const words = instruction.args.startsWith('[')
    ? (JSON.parse(instruction.args) as string[])
    : instruction.args.split(/\s+/).filter((w) => w !== '');
  if (words.length < 2) throw new Error(`line ${instruction.line}: COPY needs a source and a destination`);
  return { sources: words.slice(0, -1), dest: words.at(-1)! };
}

/** The checkout files a context COPY source names: the file itself, or every file under the folder. */
export function contextFiles(source: string, checkout: ReadonlySet<string>): string[] {
  const clean = posix.normalize(source).replace(/\/$/, '');
  if (checkout.has(clean)) return [clean];
  return [...checkout].filter((f) => f.startsWith(`${clean}/`));
}

/** The result of a replayed build: the final stage's root folder, its working directory and its ENV. */
export interface BuiltImage {
  readonly root: string;
  /** The final WORKDIR, as a folder of this machine. */
  readonly workdir: string;
  readonly env: Readonly<Record<string, string>>;
  /** Seconds each RUN took, for the record. */
  readonly steps: readonly { readonly command: string; readonly seconds: number }[];
}

/** The workspaces of the lockfile: package name → folder (`@zerogate/core` → `packages/core`). */
function workspaceLinks(lockfile: string): Map<string, string> {
  const lock = JSON.parse(readFileSync(lockfile, 'utf8')) as {
    packages: Record<string, { link?: boolean; resolved?: string }>;
  };
  const links = new Map<string, string>();
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (entry.link && entry.resolved && path.startsWith('node_modules/')) {
      links.set(path.slice('node_modules/'.length), entry.resolved);
    }
  }
  return links;
}

/** Stands in for a full `npm ci` in `cwd`: this repository's installed packages, workspaces linked into the stage. */
function linkFullInstall(cwd: string): void {
  const modules = join(cwd, 'node_modules');
  mkdirSync(modules, { recursive: true });
  const links = workspaceLinks(join(cwd, 'package-lock.json'));
  const scopes = new Set([...links.keys()].filter((n) => n.startsWith('@')).map((n) => n.split('/')[0]!));
  for (const entry of readdirSync(resolve(ROOT, 'node_modules'))) {
    if (scopes.has(entry)) {
      mkdirSync(join(modules, entry), { recursive: true });
      for (const sub of readdirSync(resolve(ROOT, 'node_modules', entry))) {
        if (!links.has(`${entry}/${sub}`))
          symlinkSync(resolve(ROOT, 'node_modules', entry, sub), join(modules, entry, sub));
      }
    } else if (!links.has(entry)) {
      symlinkSync(resolve(ROOT, 'node_modules', entry), join(modules, entry));
    }
  }
  for (const [name, folder] of links) {
    const at = join(modules, name);
    mkdirSync(dirname(at), { recursive: true });
    symlinkSync(relative(dirname(at), join(cwd, folder)), at);
  }
}

/**
 * Replays `dockerfile` into `workRoot` (one folder per stage) from `checkout`. Throws, naming the line,
 * when a COPY source is missing or a RUN fails.
 */
export function buildImage(
  dockerfile: Dockerfile,
  checkout: ReadonlySet<string>,
  workRoot: string,
): BuiltImage {
  const roots = new Map<DockerStage, string>();
  const byName = new Map<string, DockerStage>();
  const steps: { command: string; seconds: number }[] = [];
  let result: BuiltImage | undefined;
  for (const stage of dockerfile.stages) {
    const root = join(workRoot, `stage-${stage.index}${stage.name ? `-${stage.name}` : ''}`);
    mkdirSync(root, { recursive: true });
    roots.set(stage, root);
    if (stage.name) byName.set(stage.name, stage);
    const base = byName.get(stage.from);
    if (base) cpSync(roots.get(base)!, root, { recursive: true, verbatimSymlinks: true });
    let workdir = '/';
    const env: Record<string, string> = {};
    const inStage = (p: string) => join(root, isAbsolute(p) ? p : posix.join(workdir, p));
    for (const i of stage.instructions) {
      const where = `${dockerfile.path}:${i.line}`;
      switch (i.op) {
        case 'WORKDIR':
          workdir = posix.resolve(workdir, i.args);
          mkdirSync(inStage('.'), { recursive: true });
          break;
        case 'ENV': {
          const [name, ...value] = i.args.split(/[=\s]/);
          env[name!] = value.join('=').trim();
          break;
        }
        case 'COPY': {
          const { sources, dest } = copyArgs(i);
          const toDir = dest.endsWith('/') || sources.length > 1;
          const from = i.flags['from'];
          for (const source of sources) {
            if (from !== undefined) {
              const other = byName.get(from) ?? dockerfile.stages[Number(from)];
              if (!other || !roots.has(other)) throw new Error(`${where}: no earlier stage ${from}`);
              const src = join(roots.get(other)!, source);
              if (!existsSync(src)) throw new Error(`${where}: ${source} does not exist in stage ${from}`);
              const target = toDir ? join(inStage(dest), posix.basename(source)) : inStage(dest);
              mkdirSync(dirname(target), { recursive: true });
              cpSync(src, target, { recursive: true, verbatimSymlinks: true });
              continue;
            }
            const files = contextFiles(source, checkout);
            if (files.length === 0) throw new Error(`${where}: COPY ${source}: not in a clean checkout`);
            const single = files.length === 1 && files[0] === posix.normalize(source);
            for (const f of files) {
              const target = single
                ? toDir
                  ? join(inStage(dest), posix.basename(f))
                  : inStage(dest)
                : join(inStage(dest), posix.relative(posix.normalize(source), f));
              mkdirSync(dirname(target), { recursive: true });
              cpSync(resolve(ROOT, f), target);
            }
          }
          break;
        }
        case 'RUN': {
          const started = performance.now();
          const cwd = inStage('.');
          if (/^npm ci\b/.test(i.args) && !/--omit=dev\b/.test(i.args)) linkFullInstall(cwd);
          else {
            const run = spawnSync('sh', ['-c', i.args], {
              cwd,
              encoding: 'utf8',
              env: {
                PATH: `${dirname(process.execPath)}:${process.env['PATH'] ?? ''}`,
                HOME: process.env['HOME'] ?? '/root',
                ...env,
                // The registry is asked only for what the local cache lacks.
                npm_config_prefer_offline: 'true',
                npm_config_update_notifier: 'false',
              },
              maxBuffer: 64 * 1024 * 1024,
            });
            if (run.status !== 0) {
              throw new Error(
                `${where}: RUN ${i.args} failed (${run.status}):\n${run.stdout}\n${run.stderr}`,
              );
            }
          }
          steps.push({ command: i.args, seconds: Math.round((performance.now() - started) / 100) / 10 });
          break;
        }
        default:
          // USER, EXPOSE, ENTRYPOINT, CMD, ARG, LABEL: metadata, nothing to replay.
          break;
      }
    }
    if (stage === finalStage(dockerfile)) result = { root, workdir: inStage('.'), env, steps };
  }
  return result!;
}
