/**
 * Benchmarks the budgets of the TypeScript side and prints the numbers:
 *   - tsc --noEmit (budget 10 s)
 *   - rendering each stack offline with `npm start`, wall clock of the whole
 *     command, median of N runs (budget 3 s)
 *   - with --full: npm ci plus the whole test suite (budget 120 s)
 * Usage: npm run bench [-- --runs 5] [-- --full]
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import * as os from "node:os";
import { parseArgs } from "node:util";

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
if (values.full) {
  measure("npm ci", 120, 1, "npm", ["ci", "--no-audit", "--no-fund"]);
  measure("test suite (npm test)", 120, 1, "npm", ["test"]);
}

console.log(`machine: ${os.cpus().length} cores, node ${process.version}; median of ${runs} run(s) for renders`);
console.log("| measure | seconds | budget | within |");
console.log("| --- | ---: | ---: | --- |");
for (const [label, s, budget] of rows) console.log(`| ${label} | ${s.toFixed(2)} | ${budget} | ${s <= budget ? "yes" : "NO"} |`);
