#!/usr/bin/env node
// Reads `pulumi preview --json` (and `pulumi stack output --json`) for
// scripts/ci/preview-change.sh and scripts/ci/outputs-summary.sh. Each
// subcommand reads one JSON document on stdin.
//
//   summary TITLE   Markdown for a job summary: the counts per operation and
//                   one row per step that changes something (op, resource,
//                   the properties that differ, the reasons for a replacement),
//                   then the preview's warnings and errors. Values are never
//                   printed: secrets stay out, and so does anything a
//                   property holds.
//   fingerprint     sha256 of exactly what the preview would do: for every
//                   step that is not `same` (nor a refresh or a read), its
//                   operation, URN, diff and replace reasons, the kind of every
//                   changed property, and a hash of the new inputs the program
//                   gives it (secrets are `[secret]` in the JSON, so only
//                   their presence counts; the cluster's `state` and other
//                   outputs that move on their own do not count).
//   changes         the number of such steps.
//   outputs STACK   Markdown table of a stack's outputs (`pulumi stack output
//                   --json`, where secrets are "[secret]").
//
// The preview JSON is Pulumi's PreviewDigest (pulumi/pulumi pkg/display/json.go):
// { steps: [{ op, urn, newState: { inputs }, diffReasons, replaceReasons,
// detailedDiff: { path: { kind } } }], diagnostics: [{ severity, message, urn }],
// changeSummary: { op: count } }.
"use strict";

const { runOnStdinJson } = require("./stdin-json");

const crypto = require("node:crypto");

const QUIET_OPS = new Set(["same", "refresh", "read", "discard"]);

function fail(message) {
  process.stderr.write(`change.js: ${message}\n`);
  process.exit(1);
}

/** JSON with sorted keys at every level: the same value always hashes the same. */
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
const sha256 = (text) => crypto.createHash("sha256").update(text).digest("hex");

const cell = (s) => String(s).replace(/\|/g, "\\|").replace(/\s+/g, " ").trim();
const oneLine = (s, max = 400) => {
  const t = String(s ?? "").replace(/\u001b\[[0-9;]*m/g, "").replace(/\s+/g, " ").trim();
  return t.length > max ? `${t.slice(0, max - 3)}...` : t;
};

/** type and name of a URN: urn:pulumi:<stack>::<project>::<parent types$type>::<name>. */
function describe(urn) {
  const parts = String(urn).split("::");
  const name = parts.length >= 4 ? parts.slice(3).join("::") : String(urn);
  const types = parts.length >= 3 ? parts[2].split("$") : [""];
  return { type: types[types.length - 1], name };
}

function changed(doc) {
  return (Array.isArray(doc.steps) ? doc.steps : []).filter((s) => s && !QUIET_OPS.has(String(s.op)));
}

function entry(step) {
  const reasons = [...new Set([...(step.diffReasons ?? []), ...(step.replaceReasons ?? [])].map(String))].sort();
  const diff = Object.entries(step.detailedDiff ?? {})
    .map(([path, d]) => `${path}:${(d && d.kind) || "update"}`)
    .sort();
  const inputs = step.newState && step.newState.inputs !== undefined ? sha256(canonical(step.newState.inputs)) : null;
  return { op: String(step.op), urn: String(step.urn), reasons, diff, inputs };
}

function fingerprint(doc) {
  const entries = changed(doc)
    .map(entry)
    .sort((a, b) => (a.urn === b.urn ? a.op.localeCompare(b.op) : a.urn.localeCompare(b.urn)));
  return sha256(canonical(entries));
}

function summary(doc, title) {
  const steps = changed(doc);
  const lines = [`### ${title}`, ""];
  const counts = Object.entries(doc.changeSummary ?? {})
    .filter(([op, n]) => n > 0 && op !== "same")
    .map(([op, n]) => `${n} to ${op}`);
  const unchanged = (doc.changeSummary ?? {}).same;
  if (steps.length === 0) {
    lines.push(`No changes${unchanged ? ` (${unchanged} unchanged)` : ""}.`);
  } else {
    lines.push(`${counts.join(", ") || `${steps.length} changes`}${unchanged ? `; ${unchanged} unchanged` : ""}.`, "");
    lines.push("| Operation | Type | Name | Properties |", "| --- | --- | --- | --- |");
    for (const step of steps) {
      const { type, name } = describe(step.urn);
      const e = entry(step);
      const replace = (step.replaceReasons ?? []).length ? `replace because of ${step.replaceReasons.join(", ")}; ` : "";
      const props = e.diff.length ? e.diff.join(", ") : e.reasons.join(", ");
      lines.push(`| ${cell(step.op)} | \`${cell(type)}\` | \`${cell(name)}\` | ${cell(replace + (props || "-"))} |`);
    }
  }
  const diagnostics = (Array.isArray(doc.diagnostics) ? doc.diagnostics : []).filter((d) => d && ["warning", "error"].includes(String(d.severity)));
  if (diagnostics.length) {
    lines.push("", "Diagnostics:", "");
    for (const d of diagnostics) lines.push(`- ${d.severity}${d.urn ? ` (\`${describe(d.urn).name}\`)` : ""}: ${oneLine(d.message)}`);
  }
  return `${lines.join("\n")}\n`;
}

function outputs(doc, stack) {
  const keys = Object.keys(doc).sort();
  const lines = [`### Outputs of stack \`${stack}\``, ""];
  if (keys.length === 0) return `${lines.concat(["No outputs."]).join("\n")}\n`;
  lines.push("| Output | Value |", "| --- | --- |");
  for (const key of keys) {
    const v = doc[key];
    const shown = typeof v === "string" ? v : JSON.stringify(v);
    lines.push(`| \`${cell(key)}\` | ${cell(oneLine(shown, 300)) || "-"} |`);
  }
  return `${lines.join("\n")}\n`;
}

const [command, arg] = process.argv.slice(2);
const handlers = {
  summary: (doc) => summary(doc, arg ?? "Preview"),
  fingerprint: (doc) => `${fingerprint(doc)}\n`,
  changes: (doc) => `${changed(doc).length}\n`,
  outputs: (doc) => outputs(doc, arg ?? "stack"),
};
if (!handlers[command]) fail("usage: node scripts/ci/change.js summary TITLE|fingerprint|changes|outputs STACK < JSON");
runOnStdinJson({
  command,
  handler: handlers[command],
  fail,
  oneLine,
  accepts: (doc) => doc !== null && typeof doc === "object" && !Array.isArray(doc),
  preview: 160,
});
