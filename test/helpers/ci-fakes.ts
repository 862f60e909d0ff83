/**
 * For the tests of scripts/ci: a folder of stand-in commands (pulumi, az,
 * docker, ...) that log every call to $FAKE_DIR/calls, the calls read back,
 * a script run with those stand-ins first on PATH, and renderings of the
 * committed stacks made once, as the scripts make them.
 */
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { expect } from "vitest";
import type { Rendering } from "../../stacks/render/engine";
import { ROOT } from "./record";

/** Writes the stand-in commands (name -> script text) into a new folder of the sandbox; returns it. */
export function installFakes(sandbox: string, commands: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(sandbox, "fake-"));
  for (const [name, body] of Object.entries(commands)) fs.writeFileSync(path.join(dir, name), body, { mode: 0o755 });
  return dir;
}

/** The calls made, in order: [command, ...args]; of one command only when it is named. */
export function calls(dir: string, command?: string): string[][] {
  const file = path.join(dir, "calls");
  const all = fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => l.split("\t")) : [];
  return command ? all.filter((c) => c[0] === command).map((c) => c.slice(1)) : all;
}

/** The argv of each docker call, as the stand-in received them (NUL-separated records). */
export function dockerArgv(dir: string): string[][] {
  const file = path.join(dir, "docker.argv");
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, "utf8")
    .split("\0\n")
    .filter(Boolean)
    .map((rec) => rec.split("\0"));
}

/** Runs scripts/ci/<script> with the stand-ins of `dir` first on PATH, HOME in the sandbox, and nothing else of this environment. */
export function runCiScript(sandbox: string, script: string, args: string[], dir: string, env: Record<string, string> = {}): SpawnSyncReturns<string> {
  return spawnSync("bash", [path.join("scripts/ci", script), ...args], {
    cwd: ROOT,
    encoding: "utf8",
    input: "",
    env: { PATH: `${dir}:${process.env.PATH ?? ""}`, HOME: sandbox, FAKE_DIR: dir, ...env },
    timeout: 120_000,
  });
}

/** Renders a stack offline with `npm start`, as the scripts do. */
export function renderWithCli(sandbox: string, stack: string): Rendering {
  const out = path.join(fs.mkdtempSync(path.join(sandbox, "render-")), `${stack}.json`);
  const r = spawnSync("npm", ["start", "--silent", "--", "--stack", stack, "--out", out, "--quiet"], { cwd: ROOT, encoding: "utf8", timeout: 90_000 });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(fs.readFileSync(out, "utf8")) as Rendering;
}

/** A rendering of a committed stack made once per sandbox, for scripts that take it in DCS_RENDERING; its file. */
const renderedFiles = new Map<string, string>();
export function renderedFile(sandbox: string, stack: string): string {
  const key = `${sandbox}\0${stack}`;
  if (!renderedFiles.has(key)) {
    const file = path.join(fs.mkdtempSync(path.join(sandbox, "cached-")), `${stack}.json`);
    fs.writeFileSync(file, JSON.stringify(renderWithCli(sandbox, stack)));
    renderedFiles.set(key, file);
  }
  return renderedFiles.get(key)!;
}
