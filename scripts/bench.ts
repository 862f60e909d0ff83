/**
 * Benchmarks the budgets of the TypeScript side and prints the numbers:
 *   - tsc --noEmit (budget 10 s)
 *   - rendering each stack offline with `npm start`, wall clock of the whole
 *     command, median of N runs (budget 3 s)
 *   - rendering generated team stacks with 1, 10 and 50 clusters (each with
 *     its warm pool, and a job per ten clusters), to show that rendering grows
 *     linearly with the stack; the 10-cluster stack has the 3 s budget
 *   - with --full: npm ci plus the whole test suite (budget 120 s)
 * Usage: npm run bench [-- --runs 5] [-- --full]
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as os from "node:os";
import { parseArgs } from "node:util";
import { parse as parseYaml, stringify as toYaml } from "yaml";

const root = path.resolve(__dirname, "..");
const { values } = parseArgs({ options: { runs: { type: "string", default: "3" }, full: { type: "boolean", default: false } } });
const runs = Math.max(1, Number(values.runs));

function timed(cmd: string, args: string[]): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { cwd: root, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr?.toString().slice(0, 2000)}`);
  return seconds;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const bin = (name: string) => path.join(root, "node_modules", ".bin", name);
const rows: [string, number, number][] = [];
const measure = (label: string, budget: number, n: number, cmd: string, args: string[]) => {
  const samples = Array.from({ length: n }, () => timed(cmd, args));
  rows.push([label, median(samples), budget]);
  process.stderr.write(`${label}: ${samples.map((s) => s.toFixed(2)).join(" ")} s\n`);
};

measure("tsc --noEmit", 10, 1, bin("tsc"), ["--noEmit"]);
for (const stack of ["dev", "prod"]) measure(`render ${stack} (npm start, whole command)`, 3, runs, bin("tsx"), ["stacks/render/cli.ts", "--stack", stack, "--quiet"]);
/** A team stack file like dev's, with `n` clusters, a warm pool each, and a job per ten clusters. */
function scaledStack(n: number): string {
  const dev = parseYaml(fs.readFileSync(path.join(root, "Pulumi.dev.yaml"), "utf8")) as { config: Record<string, unknown> };
  const config = { ...dev.config, "dcs:environment": "dev" } as Record<string, unknown>;
  const base = (config["dcs:clusters"] as Record<string, Record<string, unknown>>).dask;
  const { nodeType: _nodeType, ...rest } = base;
  void _nodeType;
  const clusters: Record<string, unknown> = {};
  const pools: Record<string, unknown> = {};
  const jobs: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) {
    pools[`p${i}`] = { nodeType: "Standard_D4ds_v5", idleMinutes: 15 };
    clusters[`c${i}`] = { ...rest, pool: { workers: `p${i}` } };
    if (i % 10 === 0) jobs[`j${i}`] = { file: "dask_smoke.py", runAs: "7e8f9a0b-1c2d-4e3f-8a4b-5c6d7e8f9a0b", pool: { workers: `p${i}` } };
  }
  return toYaml({ config: { ...config, "dcs:clusters": clusters, "dcs:pools": pools, "dcs:jobs": jobs } });
}

for (const n of [1, 10, 50]) {
  const name = `bench-${n}-${process.pid}`;
  const file = path.join(root, `Pulumi.${name}.yaml`);
  fs.writeFileSync(file, scaledStack(n));
  try {
    measure(`render a stack of ${n} cluster(s), pools and jobs`, n === 10 ? 3 : Number.POSITIVE_INFINITY, runs, bin("tsx"), ["stacks/render/cli.ts", "--stack", name, "--quiet"]);
  } finally {
    fs.rmSync(file, { force: true });
  }
}

if (values.full) {
  measure("npm ci", 120, 1, "npm", ["ci", "--no-audit", "--no-fund"]);
  measure("test suite (npm test)", 120, 1, "npm", ["test"]);
}

console.log(`machine: ${os.cpus().length} cores, node ${process.version}; median of ${runs} run(s) for renders`);
console.log("| measure | seconds | budget | within |");
console.log("| --- | ---: | ---: | --- |");
for (const [label, s, budget] of rows) console.log(`| ${label} | ${s.toFixed(2)} | ${Number.isFinite(budget) ? budget : "-"} | ${s <= budget ? "yes" : "NO"} |`);
