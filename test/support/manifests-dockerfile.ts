/**
 * A reader of the project's Dockerfiles, enough to check them and to replay their build outside Docker:
 * global and stage `ARG`s, stages, and each stage's instructions with continuation lines joined.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ROOT } from './processes.js';

/** One instruction: its keyword (upper case), its flags (`--from=build`) and the rest of the line. */
export interface DockerInstruction {
  readonly op: string;
  readonly flags: Readonly<Record<string, string>>;
  readonly args: string;
  readonly line: number;
}

/** One build stage. */
export interface DockerStage {
  readonly index: number;
  /** The `AS` name, if any. */
  readonly name: string | undefined;
  /** The base, with build arguments substituted: an image, or an earlier stage's name. */
  readonly from: string;
  readonly instructions: DockerInstruction[];
}

/** A parsed Dockerfile. */
export interface Dockerfile {
  readonly path: string;
  /** Build arguments declared before the first FROM, with their defaults. */
  readonly args: Readonly<Record<string, string>>;
  readonly stages: DockerStage[];
}

/** The Dockerfile of each of our images, by image name (without registry tag). */
export const IMAGE_DOCKERFILES: Readonly<Record<string, string>> = {
  'ghcr.io/zerogate/activator': 'Dockerfile.activator',
  'ghcr.io/zerogate/queue-proxy': 'Dockerfile.queue-proxy',
};

function substitute(text: string, args: Readonly<Record<string, string>>): string {
  return text.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (whole, a?: string, b?: string) => {
      const name = a ?? b ?? '';
      return args[name] ?? whole;
    },
  );
}

/** Parses a Dockerfile (path relative to the repository). */
export function parseDockerfile(path: string): Dockerfile {
  const lines = readFileSync(resolve(ROOT, path), 'utf8').split('\n');
  const args: Record<string, string> = {};
  const stages: DockerStage[] = [];
  let pending = '';
  let startLine = 0;
  const handle = (text: string, line: number) => {
    const m = /^(\S+)\s*(.*)$/s.exec(text.trim());
    if (!m) return;
    const op = m[1]!.toUpperCase();
    let rest = m[2]!;
    const flags: Record<string, string> = {};
    for (let f = /^--([a-z-]+)=(\S+)\s+/.exec(rest); f; f = /^--([a-z-]+)=(\S+)\s+/.exec(rest)) {
      flags[f[1]!] = f[2]!;
      rest = rest.slice(f[0].length);
    }
    if (op === 'FROM') {
      const [image, as, name] = rest.split(/\s+/);
      stages.push({
        index: stages.length,
        name: as?.toUpperCase() === 'AS' ? name : undefined,
        from: substitute(image ?? '', args),
        instructions: [],
      });
      return;
    }
    if (op === 'ARG' && stages.length === 0) {
      const [name, value] = rest.split('=', 2);
      args[name!.trim()] = (value ?? '').trim();
      return;
    }
    const stage = stages.at(-1);
    if (!stage) throw new Error(`${path}:${line}: ${op} before the first FROM`);
    stage.instructions.push({ op, flags, args: rest.trim(), line });
  };
  lines.forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (pending === '' && /^\s*#/.test(line)) return;
    if (pending === '') startLine = i + 1;
    if (/\\\s*$/.test(line)) {
      pending += `${line.replace(/\\\s*$/, '')} `;
      return;
    }
    const text = pending + line;
    pending = '';
    if (text.trim() !== '') handle(text, startLine);
  });
  return { path, args, stages };
}

/** An instruction's arguments in exec (JSON array) form; throws on the shell form. */
export function execForm(instruction: DockerInstruction): string[] {
  const value = JSON.parse(instruction.args) as unknown;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new Error(`line ${instruction.line}: ${instruction.op} is not in exec form`);
  }
  return value as string[];
}

/** The last stage: the image itself. */
export function finalStage(dockerfile: Dockerfile): DockerStage {
  const stage = dockerfile.stages.at(-1);
  if (!stage) throw new Error(`${dockerfile.path} has no stage`);
  return stage;
}

/** The last instruction of a kind in a stage, if any. */
export function lastOf(stage: DockerStage, op: string): DockerInstruction | undefined {
  return stage.instructions.filter((i) => i.op === op).at(-1);
}

/** What the image runs by default: ENTRYPOINT then CMD, both in exec form. */
export function imageCommand(dockerfile: Dockerfile): string[] {
  const stage = finalStage(dockerfile);
  const entry = lastOf(stage, 'ENTRYPOINT');
  const cmd = lastOf(stage, 'CMD');
  return [...(entry ? execForm(entry) : []), ...(cmd ? execForm(cmd) : [])];
}

/** The Dockerfile that builds `image` (`registry/name:tag`), or undefined for an image not ours. */
export function dockerfileOf(image: string): Dockerfile | undefined {
  const name = image.replace(/@sha256:[0-9a-f]+$/, '').replace(/:[^/:]+$/, '');
  const path = IMAGE_DOCKERFILES[name];
  return path ? parseDockerfile(path) : undefined;
}
