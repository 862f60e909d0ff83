/**
 * For test/rehearse.test.ts: the Docker engine it needs, the stand-in base
 * (scripts/rehearse-standin-base.sh), images that Databricks would refuse, a
 * build context that installs the notebook helper exactly as
 * infra/image/Dockerfile does, `npm run rehearse` as a child process, and what
 * a run left labelled behind.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { chooseDockerCli } from "../../tools/rehearse/docker";
import { ROOT } from "./processes";

/** The docker CLI the tool itself picks for a build (on a machine whose first docker lacks buildx, another). */
export const DOCKER = chooseDockerCli(true).cli;

/** Runs docker synchronously. */
export function docker(args: string[], input?: string, timeoutMs = 120_000) {
  const r = spawnSync(DOCKER, args, { encoding: "utf8", input, timeout: timeoutMs, env: { ...process.env, DOCKER_BUILDKIT: "1" } });
  return { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? (r.error ? String(r.error) : "") };
}

/** Why the Docker engine cannot be used, or undefined when it answers. */
export function engineProblem(): string | undefined {
  const r = docker(["version", "--format", "{{.Server.Version}}"], undefined, 30_000);
  if (r.code === 0) return undefined;
  return (
    `the launch rehearsal test needs a running Docker engine, and ${DOCKER} cannot reach one: ${(r.stderr || r.stdout).trim()}\n` +
    "Start one (as root: scripts/start-dockerd.sh, which .ci/run runs) and run the tests again. This test does not skip."
  );
}

/** Builds (once, then cached as an image) the stand-in base; returns its reference. */
export function standinBase(): string {
  const r = spawnSync("bash", [path.join(ROOT, "scripts", "rehearse-standin-base.sh")], { encoding: "utf8", timeout: 600_000, env: { ...process.env, DOCKER } });
  if (r.status !== 0) throw new Error(`scripts/rehearse-standin-base.sh failed (${r.status}):\n${r.stderr}`);
  return r.stdout.trim().split("\n").pop()!;
}

/** Builds a small image from a Dockerfile on stdin, labelled for the test's own cleanup. */
export function buildImage(ref: string, dockerfile: string, label: string, platform?: string): void {
  const args = ["build", "--quiet", "--label", label, "-t", ref, ...(platform ? ["--platform", platform] : []), "-"];
  const r = docker(args, dockerfile);
  if (r.code !== 0) throw new Error(`docker build of ${ref} failed: ${r.stderr}`);
}

/**
 * infra/image/Dockerfile without what needs Docker Hub or PyPI: the `# syntax`
 * line (its frontend image), the wheels stage and the requirements install.
 * What stays is the image's own final stage: FROM ${BASE_IMAGE} for
 * linux/amd64, its SHELL, the notebook helper's install step, the ARGs and
 * LABELs, all as written there.
 */
export function helperOnlyDockerfile(text = fs.readFileSync(path.join(ROOT, "infra", "image", "Dockerfile"), "utf8")): string {
  // Logical instructions: comment lines dropped, continuation lines joined to their instruction.
  const instructions: string[] = [];
  let current = "";
  for (const line of text.split("\n")) {
    if (/^\s*#/.test(line) && current === "") continue;
    current += (current ? "\n" : "") + line;
    if (!/\\\s*$/.test(line)) {
      if (current.trim()) instructions.push(current);
      current = "";
    }
  }
  const out: string[] = [];
  let stage: "prelude" | "wheels" | "final" = "prelude";
  for (const ins of instructions) {
    if (/^FROM\s/i.test(ins)) stage = /\sAS\s+wheels\s*$/i.test(ins) ? "wheels" : "final";
    if (stage === "wheels") continue;
    if (stage === "final" && /requirements|wheels/.test(ins)) continue;
    out.push(ins);
  }
  const result = `${out.join("\n")}\n`;
  for (const must of ["FROM --platform=linux/amd64 ${BASE_IMAGE}", "dcs_dask.py", "ARG IMAGE_REVISION", "LABEL org.opencontainers.image.title"]) {
    if (!result.includes(must)) throw new Error(`infra/image/Dockerfile changed shape: the derived Dockerfile lacks ${must}`);
  }
  return result;
}

/** A build context: the derived Dockerfile, the real dcs_dask.py and .dockerignore. */
export function helperContext(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "Dockerfile"), helperOnlyDockerfile());
  for (const f of ["dcs_dask.py", ".dockerignore"]) fs.copyFileSync(path.join(ROOT, "infra", "image", f), path.join(dir, f));
}

export interface Rehearsal {
  child: ChildProcess;
  /** Output so far (stdout and stderr interleaved as they came). */
  output: () => string;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>;
}

/** Starts `npm run rehearse -- <args>` as npm runs it (tsx tools/rehearse/cli.ts). */
export function startRehearsal(args: string[], env: Record<string, string> = {}): Rehearsal {
  const child = spawn(path.join(ROOT, "node_modules", ".bin", "tsx"), [path.join(ROOT, "tools", "rehearse", "cli.ts"), ...args], {
    cwd: ROOT,
    env: { ...process.env, DOCKER, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>((resolve) => child.on("close", (code, signal) => resolve({ code, signal, output })));
  return { child, output: () => output, done };
}

/** Runs a rehearsal to its end. */
export async function rehearsal(args: string[]) {
  return startRehearsal(args).done;
}

/** Everything on the engine carrying the label `key=value`: containers (also stopped), networks, volumes, images. */
export function labelled(label: string): { containers: string[]; networks: string[]; volumes: string[]; images: string[] } {
  const list = (args: string[]) => docker([...args, "--filter", `label=${label}`]).stdout.split("\n").filter(Boolean);
  return {
    containers: list(["ps", "--all", "--format", "{{.Names}}"]),
    networks: list(["network", "ls", "--format", "{{.Name}}"]),
    volumes: list(["volume", "ls", "--format", "{{.Name}}"]),
    images: list(["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"]),
  };
}

export const NOTHING = { containers: [], networks: [], volumes: [], images: [] };
