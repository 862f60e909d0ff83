#!/usr/bin/env node
// JSON reading for scripts/ci/run-smoke-job.sh; each subcommand reads one JSON
// document on stdin and prints plain text for bash to read.
//
//   job-id NAME   `pulumi stack output jobs --json` ({ <name>: { id, url } }):
//                 the Databricks job id of job NAME. Exit 3, printing the names
//                 the output has (or "none"), when it has no job NAME; exit 1
//                 when the output is not such a map or the id is not a job id.
//   run-id        `databricks jobs run-now JOB_ID --no-wait -o json`
//                 ({ run_id, number_in_job }): the run id.
//   run           `databricks jobs get-run RUN_ID -o json` (a Run): five lines,
//                 state.life_cycle_state, state.result_state, state.state_message,
//                 run_page_url and status.termination_details ("CODE (TYPE): message"),
//                 any but the first possibly empty; then one line per task,
//                 RUN_ID, TASK_KEY, LIFE_CYCLE_STATE, RESULT_STATE, STATE_MESSAGE
//                 separated by US (\x1f, not a blank: bash's read keeps empty fields).
//                 Nothing else of the run (its cluster spec, its parameters) is printed.
//   output N      `databricks jobs get-run-output RUN_ID -o json` (a RunOutput):
//                 the task's error, the last N lines of its error_trace and of
//                 its logs (stdout and stderr of a spark_python_task), each
//                 line prefixed "  | ".
//   last-line     the same document: the last non-empty line of its logs.
//
// Nothing secret is printed: the value of every environment variable whose
// name says it holds a credential (TOKEN, SECRET, PASSWORD, PASSPHRASE,
// CREDENTIAL) is replaced by *** wherever it appears, and text from the run is
// kept from being read as a command of the CI system: GitHub's workflow
// commands start a line with "::" (after blanks), Azure DevOps' contain
// "##vso[" anywhere; every line of run text is prefixed, and "##vso[" and "##["
// are broken up.
"use strict";

const { runOnStdinJson } = require("./stdin-json");

const JOB_ID = /^[0-9]{1,19}$/;
const MAX_LINE = 1000;

function fail(message, code = 1) {
  process.stderr.write(`job-run.js: ${message}\n`);
  process.exit(code);
}

const SECRET_NAME = /TOKEN|SECRET|PASSWORD|PASSPHRASE|CREDENTIAL/i;
const secretValues = Object.entries(process.env)
  .filter(([name, value]) => SECRET_NAME.test(name) && typeof value === "string" && value.length >= 6)
  .map(([, value]) => value)
  .sort((a, b) => b.length - a.length);

/** Run text made safe to print: credentials of the environment hidden, CI log commands broken up. */
function safe(text) {
  let t = String(text ?? "");
  for (const value of secretValues) t = t.split(value).join("***");
  return t.replace(/##vso\[/gi, "##vso [").replace(/##\[/g, "## [");
}

/** One line, no tabs, at most `max` characters. */
const oneLine = (s, max = 300) => {
  const t = safe(s).replace(/[\s\x00-\x1f\x7f]+/g, " ").trim();
  return t.length > max ? `${t.slice(0, max - 3)}...` : t;
};

/** The last `n` lines of a text, each made safe and prefixed. */
function tail(text, n) {
  const lines = safe(text).replace(/\r\n?/g, "\n").replace(/\n+$/, "").split("\n");
  const shown = lines.slice(-n).map((l) => {
      const clean = l.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "").replace(/[\x00-\x08\x0b-\x1f\x7f]/g, "");
    return `  | ${clean.length > MAX_LINE ? `${clean.slice(0, MAX_LINE - 3)}...` : clean}\n`;
  });
  return { shown: shown.join(""), total: lines.length };
}

function jobId(outputs, name) {
  if (outputs === null || typeof outputs !== "object" || Array.isArray(outputs)) fail(`the jobs output is not a map of job name -> { id, url }: ${oneLine(JSON.stringify(outputs), 80)}`);
  if (!Object.prototype.hasOwnProperty.call(outputs, name)) {
    const names = Object.keys(outputs).sort();
    process.stdout.write(`${names.length ? names.join(", ") : "none"}\n`);
    process.exit(3);
  }
  const entry = outputs[name];
  const id = entry !== null && typeof entry === "object" ? entry.id : undefined;
  const text = typeof id === "number" && Number.isSafeInteger(id) ? String(id) : id;
  if (typeof text !== "string" || !JOB_ID.test(text)) fail(`jobs.${name}.id is not a Databricks job id: ${oneLine(JSON.stringify(id ?? null), 80)}`);
  return `${text}\n`;
}

function runId(response) {
  const id = response.run_id;
  if (!Number.isSafeInteger(id) || id <= 0) fail(`run-now gave no run_id: ${oneLine(JSON.stringify(response), 120)}`);
  return `${id}\n`;
}

function termination(status) {
  const d = (status ?? {}).termination_details;
  if (!d || typeof d !== "object" || !d.code) return "";
  return `${d.code}${d.type ? ` (${d.type})` : ""}${d.message ? `: ${d.message}` : ""}`;
}

function run(r) {
  const state = r.state ?? {};
  const lines = [oneLine(state.life_cycle_state ?? "UNKNOWN", 40), oneLine(state.result_state ?? "", 40), oneLine(state.state_message ?? "", 600), oneLine(r.run_page_url ?? "", 300), oneLine(termination(r.status), 600)];
  for (const task of Array.isArray(r.tasks) ? r.tasks : []) {
    const s = task.state ?? {};
    if (!Number.isSafeInteger(task.run_id)) continue;
    lines.push([task.run_id, oneLine(task.task_key ?? "task", 100), oneLine(s.life_cycle_state ?? "", 40), oneLine(s.result_state ?? "", 40), oneLine(s.state_message ?? "", 600)].join("\x1f"));
  }
  return lines.map((l) => `${l}\n`).join("");
}

function output(o, n) {
  let out = "";
  if (o.error) out += `  error: ${oneLine(o.error, 1000)}\n`;
  if (o.error_trace) {
    const t = tail(o.error_trace, n);
    out += `  error trace${t.total > n ? ` (last ${n} of ${t.total} lines)` : ""}:\n${t.shown}`;
  }
  if (typeof o.logs === "string" && o.logs.trim() !== "") {
    const t = tail(o.logs, n);
    const cut = o.logs_truncated ? "; Databricks returns only the last 5 MB" : "";
    out += `  output${t.total > n ? ` (last ${n} of ${t.total} lines${cut})` : cut ? ` (${cut.slice(2)})` : ""}:\n${t.shown}`;
  } else {
    out += "  output: none recorded\n";
  }
  return out;
}

function lastLine(o) {
  const lines = String(o.logs ?? "").split(/\r?\n/).filter((l) => l.trim() !== "");
  return lines.length ? `${oneLine(lines.at(-1), 600)}\n` : "";
}

const [command, arg] = process.argv.slice(2);
const handlers = {
  "job-id": (doc) => (arg ? jobId(doc, arg) : fail("job-id needs a job name")),
  "run-id": (doc) => runId(doc),
  run: (doc) => run(doc),
  output: (doc) => {
    const n = Number(arg ?? "40");
    if (!Number.isInteger(n) || n < 1) fail(`output needs a number of lines, got ${arg}`);
    return output(doc, n);
  },
  "last-line": (doc) => lastLine(doc),
};
if (!handlers[command]) fail("usage: node scripts/ci/job-run.js job-id NAME|run-id|run|output N|last-line < JSON");
runOnStdinJson({ command, handler: handlers[command], fail, oneLine, accepts: (doc) => command === "job-id" || (doc !== null && typeof doc === "object") });
