/**
 * The Docker CLI, run as child processes the rehearsal keeps track of: each
 * in a process group of its own (a Ctrl-C in the terminal reaches the
 * rehearsal, which then stops its docker commands in order and cleans up,
 * instead of every docker command dying at once), and every one stopped when
 * the rehearsal is interrupted. After an interruption only cleanup commands run.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

export interface DockerResult {
  /** Exit status; -1 when ended by a signal. */
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Working directory. */
  cwd?: string;
  /** Extra environment variables for the docker CLI itself. */
  env?: Record<string, string>;
  /** Receives output as it comes (the build's progress, the smoke job's lines). */
  onStdout?: (text: string) => void;
  onStderr?: (text: string) => void;
  /** Runs even after an interruption (cleanup). */
  cleanup?: boolean;
}

/** Raised for commands refused or stopped because the rehearsal was interrupted. */
export class Interrupted extends Error {
  constructor(public readonly signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`);
    this.name = "Interrupted";
  }
}

export class Docker {
  /** Commands under way; cleanup commands are never stopped. */
  private readonly inflight = new Map<ChildProcess, boolean>();
  /** The signal that interrupted the rehearsal, once one did. */
  interrupted?: NodeJS.Signals;

  constructor(
    /** Path or name of the docker CLI. */
    public readonly cli: string,
  ) {}

  /** Runs `docker <args>` and collects its output; never throws for a non-zero status. */
  run(args: string[], options: RunOptions = {}): Promise<DockerResult> {
    if (this.interrupted && !options.cleanup) return Promise.reject(new Interrupted(this.interrupted));
    return new Promise((resolve, reject) => {
      const child = spawn(this.cli, args, {
        cwd: options.cwd,
        env: { ...process.env, ...options.env },
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
      });
      this.inflight.set(child, options.cleanup === true);
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => {
        stdout += d.toString();
        options.onStdout?.(d.toString());
      });
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
        options.onStderr?.(d.toString());
      });
      child.on("error", (e) => {
        this.inflight.delete(child);
        reject(e);
      });
      child.on("close", (code) => {
        this.inflight.delete(child);
        if (this.interrupted && !options.cleanup) reject(new Interrupted(this.interrupted));
        else resolve({ code: code ?? -1, stdout, stderr });
      });
    });
  }

  /** Runs `docker <args>`; throws with docker's own message on a non-zero status. */
  async ok(args: string[], what: string, options: RunOptions = {}): Promise<string> {
    const r = await this.run(args, options);
    if (r.code !== 0) throw new DockerError(`${what}: docker ${args[0]} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim()}`);
    return r.stdout.trim();
  }

  /**
   * Stops every docker command under way: SIGINT first (a build cancels
   * itself), SIGKILL after `graceMs`. Later commands are refused unless marked cleanup.
   */
  async interrupt(signal: NodeJS.Signals, graceMs = 10_000): Promise<void> {
    this.interrupted ??= signal;
    const running = [...this.inflight].filter(([, isCleanup]) => !isCleanup).map(([child]) => child);
    for (const child of running) child.kill("SIGINT");
    const deadline = Date.now() + graceMs;
    while (running.some((c) => c.exitCode === null && c.signalCode === null) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
}

/** A docker command failed. */
export class DockerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DockerError";
  }
}

/** Every executable named `docker` on PATH, in PATH order, without duplicates. */
export function dockerClisOnPath(pathVar = process.env.PATH ?? ""): string[] {
  const seen = new Set<string>();
  const found: string[] = [];
  for (const dir of pathVar.split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, "docker");
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      const real = fs.realpathSync(candidate);
      if (seen.has(real)) continue;
      seen.add(real);
      found.push(candidate);
    } catch {
      /* not here */
    }
  }
  return found;
}

/** The docker CLI's own version (answers without an engine). */
export function clientVersion(cli: string): string | undefined {
  const r = spawnSync(cli, ["version", "--format", "{{.Client.Version}}"], { encoding: "utf8", timeout: 15_000 });
  const v = (r.stdout ?? "").trim().split("\n")[0];
  return /^\d+\.\d+/.test(v) ? v : undefined;
}

/**
 * Whether a docker CLI builds with BuildKit (the Dockerfile's `RUN --mount`
 * needs it): with the buildx plugin, or, before Docker 23, with the engine's
 * built-in BuildKit under DOCKER_BUILDKIT=1. From 23 on, `docker build` with
 * BuildKit is buildx, and without the plugin it refuses to build.
 */
export function buildsWithBuildKit(cli: string): { ok: boolean; version?: string } {
  const version = clientVersion(cli);
  const buildx = spawnSync(cli, ["buildx", "version"], { encoding: "utf8", timeout: 15_000 });
  if (buildx.status === 0) return { ok: true, version };
  const major = Number(version?.split(".")[0]);
  return { ok: Number.isInteger(major) && major < 23, version };
}

/**
 * The docker CLI to use: $DOCKER if set; otherwise the first `docker` on PATH,
 * or, when the rehearsal builds and that one cannot build with BuildKit, the
 * first on PATH that can. Returns what it chose and why.
 */
export function chooseDockerCli(needsBuild: boolean, env: NodeJS.ProcessEnv = process.env): { cli: string; note?: string; problem?: string } {
  if (env.DOCKER) return { cli: env.DOCKER };
  const all = dockerClisOnPath(env.PATH);
  if (all.length === 0) return { cli: "docker", problem: "no docker command on PATH: install Docker (on Debian: apt-get install docker.io)" };
  if (!needsBuild) return { cli: all[0] };
  const first = buildsWithBuildKit(all[0]);
  if (first.ok) return { cli: all[0] };
  for (const other of all.slice(1)) {
    const r = buildsWithBuildKit(other);
    if (r.ok) return { cli: other, note: `using ${other} (${r.version ?? "?"}): ${all[0]} (${first.version ?? "?"}) has no buildx plugin, which its builds with BuildKit need` };
  }
  return {
    cli: all[0],
    problem: `${all[0]} (${first.version ?? "?"}) cannot build with BuildKit, which the Dockerfile's RUN --mount needs: install the buildx plugin (docker-buildx), or set DOCKER to a docker CLI that can`,
  };
}
