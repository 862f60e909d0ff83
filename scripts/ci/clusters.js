#!/usr/bin/env node
// JSON reading for scripts/ci/check-clusters.sh; each subcommand reads one
// JSON document on stdin and prints plain text for bash to read.
//
//   ids       `pulumi stack output --json`: the stack's clusters as `ID<TAB>NAME`:
//             the output clusterId (named clusterId), and every entry of an
//             output clusters that maps names to objects with an id field.
//             Each ID once; nothing when the stack has no cluster outputs.
//   summary   `databricks clusters get ID -o json`: five lines, STATE,
//             FINGERPRINT, TERMINATION_CODE, TERMINATION_MESSAGE and CLUSTER_NAME
//             (any but the first two possibly empty).
//             FINGERPRINT hashes the spec fields whose change restarts a running
//             cluster, so two readings tell whether an edit touched them; the
//             values themselves are never printed.
//   event     `databricks api post /api/2.1/clusters/events` (order DESC, limit 1):
//             the latest event as one line: type, time, and the details that
//             explain a state (reason, cause, worker counts), never the cluster
//             attributes an EDITED event carries.
"use strict";

const { runOnStdinJson } = require("./stdin-json");

const crypto = require("node:crypto");

/** Spec fields whose change restarts a running cluster (an edit; a resize changes none). */
const RESTARTING_FIELDS = [
  "spark_version",
  "docker_image",
  "spark_env_vars",
  "spark_conf",
  "init_scripts",
  "node_type_id",
  "driver_node_type_id",
  "custom_tags",
  "data_security_mode",
  "single_user_name",
];
/** Event details worth printing; the rest (attributes, previous_attributes) is the spec itself. */
const EVENT_DETAILS = ["reason", "cause", "current_num_workers", "target_num_workers", "driver_state_message", "did_not_expand_reason", "user"];
const ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function fail(message) {
  process.stderr.write(`clusters.js: ${message}\n`);
  process.exit(1);
}

/** One line, no tabs, at most `max` characters. */
const oneLine = (s, max = 300) => {
  const t = String(s ?? "").replace(/\s+/g, " ").trim();
  return t.length > max ? `${t.slice(0, max - 3)}...` : t;
};

/** JSON with object keys sorted at every level: the same value always hashes the same. */
function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

function ids(outputs) {
  const found = [];
  const add = (id, name) => {
    if (typeof id !== "string" || !ID.test(id)) fail(`stack output ${name} is not a cluster id: ${oneLine(JSON.stringify(id), 80)}`);
    if (!found.some(([known]) => known === id)) found.push([id, name]);
  };
  if (outputs.clusterId !== undefined && outputs.clusterId !== null) add(outputs.clusterId, "clusterId");
  const clusters = outputs.clusters;
  if (clusters !== undefined && clusters !== null) {
    if (typeof clusters !== "object" || Array.isArray(clusters)) fail("stack output clusters is not an object of name -> { id }");
    for (const name of Object.keys(clusters).sort()) add((clusters[name] ?? {}).id, `clusters.${name}`);
  }
  return found.map(([id, name]) => `${id}\t${name}\n`).join("");
}

function summary(cluster) {
  const spec = Object.fromEntries(RESTARTING_FIELDS.map((f) => [f, cluster[f] ?? null]));
  const fingerprint = crypto.createHash("sha256").update(canonical(spec)).digest("hex").slice(0, 16);
  const reason = cluster.termination_reason ?? {};
  const message = (reason.parameters ?? {}).databricks_error_message ?? "";
  return [oneLine(cluster.state ?? "UNKNOWN", 40), fingerprint, oneLine(reason.code ?? "", 80), oneLine(message), oneLine(cluster.cluster_name ?? "", 100)].map((f) => `${f}\n`).join("");
}

function event(response) {
  const events = Array.isArray(response) ? response : (response.events ?? []);
  if (events.length === 0) return "none recorded\n";
  const e = events[0];
  const when = Number.isFinite(e.timestamp) ? new Date(e.timestamp).toISOString() : "at an unknown time";
  const details = e.details ?? {};
  const shown = EVENT_DETAILS.filter((k) => details[k] !== undefined).map((k) => `${k}=${typeof details[k] === "object" ? canonical(details[k]) : details[k]}`);
  return `${oneLine(e.type ?? "UNKNOWN", 60)} at ${when}${shown.length ? ` (${oneLine(shown.join(" "), 600)})` : ""}\n`;
}

const command = process.argv[2];
const handlers = { ids, summary, event };
if (!handlers[command]) fail("usage: node scripts/ci/clusters.js ids|summary|event < JSON");
runOnStdinJson({ command, handler: handlers[command], fail, oneLine });
