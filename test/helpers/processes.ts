/**
 * Real processes for tests: run a script and capture it, find free ports, poll
 * for a condition, find the processes a test left (by process group or by what
 * their command line names) and kill them one pid at a time. Process groups are
 * looked at, never signalled. Linux only: it reads /proc.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";

/** The repository root. */
export const ROOT = path.resolve(__dirname, "..", "..");

/** Debian's Python, which has dask and distributed (the python3 first on PATH may not). */
export const SYSTEM_PYTHON = "/usr/bin/python3";

export interface Run {
  /** Exit status, or -1 when the process was killed by a signal. */
  code: number;
  stdout: string;
  stderr: string;
  /** Wall-clock milliseconds from spawn to exit. */
  ms: number;
}

/** Runs a program with exactly this environment and collects its output. */
export function run(command: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 15_000, input?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(command, args, { env, stdio: ["pipe", "pipe", "pipe"], timeout: timeoutMs, killSignal: "SIGKILL" });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr, ms: Number(process.hrtime.bigint() - start) / 1e6 }));
    // A child that exits before reading its input (a misconfigured run) closes the pipe: not an error.
    child.stdin.on("error", () => undefined);
    child.stdin.end(input ?? "");
  });
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** `count` distinct free ports. */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `condition` every `intervalMs` until it holds; throws `what` after `timeoutMs`. */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 15_000, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

export interface ProcessInfo {
  pid: number;
  /** Process group id. */
  pgid: number;
  /** Session id. */
  sid: number;
  /** One-letter state from /proc/<pid>/stat; "Z" is a zombie (exited, not reaped). */
  state: string;
  cmdline: string;
}

/** Every process of the machine, from /proc; zombies included. */
export function processes(): ProcessInfo[] {
  const out: ProcessInfo[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      // The command name is in parentheses and may hold spaces: the fields we want follow its last ')'.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ").trim();
      out.push({ pid: Number(entry), state: fields[0], pgid: Number(fields[2]), sid: Number(fields[3]), cmdline });
    } catch {
      /* the process ended while we looked */
    }
  }
  return out;
}

/** The live (not zombie) process with this pid, if any. */
export function liveProcess(pid: number): ProcessInfo | undefined {
  return processes().find((p) => p.pid === pid && p.state !== "Z");
}

/** Live processes whose command line contains `text` (e.g. a test's temporary folder). */
export function liveProcessesMentioning(text: string): ProcessInfo[] {
  return processes().filter((p) => p.state !== "Z" && p.cmdline.includes(text) && p.pid !== process.pid);
}

/** Live members of a process group (e.g. the session a script started with setsid). */
export function groupMembers(pgid: number): ProcessInfo[] {
  return processes().filter((p) => p.pgid === pgid && p.state !== "Z" && p.pid !== process.pid);
}

/** Kills single processes by pid (SIGKILL), e.g. strays found by `liveProcessesMentioning`. */
export function killPids(pids: number[]): void {
  for (const pid of pids.filter((p) => p !== process.pid)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
}
