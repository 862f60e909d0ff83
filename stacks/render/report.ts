/**
 * Turns a Rendering into what people and pipelines read: a deterministic JSON
 * document, a terminal summary, a Markdown report with a Mermaid graph, and a
 * diff between two renderings. All pure functions of their inputs.
 */
import type { Rendering, RenderedResource } from "./engine";

/** The JSON document's format version; bump when its shape changes. */
export const RENDERING_FORMAT = 1;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** Deep copy with object keys sorted, so equal renderings serialize byte for byte. */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (isObject(value)) {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .filter((k) => value[k] !== undefined)
        .map((k) => [k, sortKeys(value[k])]),
    );
  }
  return value;
}

/**
 * The deterministic JSON text of a rendering. Paths are shown exactly as the
 * engine receives them: the program passes project-relative paths (an
 * absolute one would differ per checkout and make the Docker provider rebuild),
 * so two checkouts render byte for byte the same.
 */
export function toJson(r: Rendering): string {
  const doc = { format: RENDERING_FORMAT, ...r };
  return `${JSON.stringify(sortKeys(doc), null, 2)}\n`;
}

/** Short name of a URN: its last segment. */
export function shortName(urn: string): string {
  return urn.split("::").pop() ?? urn;
}

/** Type of a URN: the last type in its parent chain. */
export function urnType(urn: string): string {
  return (urn.split("::")[2] ?? "").split("$").pop() ?? "";
}

/** The inputs worth a glance, per resource type. */
const KEY_INPUTS: Record<string, string[]> = {
  "azure-native:resources:ResourceGroup": ["resourceGroupName", "location"],
  "azure-native:containerregistry:Registry": ["registryName", "sku.name", "adminUserEnabled", "anonymousPullEnabled"],
  "azure-native:authorization:RoleAssignment": ["principalId", "roleDefinitionId"],
  "docker:index/image:Image": ["imageName", "build.platform", "build.context", "build.dockerfile", "build.args.BASE_IMAGE"],
  "time:index/sleep:Sleep": ["createDuration"],
  "azure-native:containerregistry:Task": ["taskName", "trigger.timerTriggers", "step.encodedTaskContent"],
  "databricks:index/secretScope:SecretScope": ["name"],
  "databricks:index/secret:Secret": ["scope", "key", "stringValue"],
  "databricks:index/secretAcl:SecretAcl": ["scope", "principal", "permission"],
  "pulumi:providers:databricks": ["host", "azureWorkspaceResourceId"],
  "pulumi:pulumi:StackReference": ["name"],
  "databricks:index/clusterPolicy:ClusterPolicy": ["name"],
  "databricks:index/permissions:Permissions": ["clusterPolicyId", "accessControls"],
  "databricks:index/workspaceConf:WorkspaceConf": ["customConfig.enableDcs"],
  "databricks:index/workspaceFile:WorkspaceFile": ["path", "contentBase64"],
  "databricks:index/file:File": ["path", "contentBase64"],
  "databricks:index/dbfsFile:DbfsFile": ["path", "contentBase64"],
  "databricks:index/cluster:Cluster": [
    "clusterName",
    "sparkVersion",
    "nodeTypeId",
    "autoscale",
    "numWorkers",
    "autoterminationMinutes",
    "dataSecurityMode",
    "dockerImage.url",
    "dockerImage.basicAuth.password",
    "sparkConf",
    "sparkEnvVars.DCS_INIT_SCRIPTS_SHA256",
    "policyId",
  ],
};

function at(obj: Record<string, unknown>, dotted: string): unknown {
  return dotted.split(".").reduce<unknown>((v, k) => (isObject(v) ? v[k] : undefined), obj);
}

function show(v: unknown): string {
  if (v === undefined) return "(absent)";
  return typeof v === "string" ? v : JSON.stringify(v);
}

function keyInputs(res: RenderedResource): string[] {
  const paths = KEY_INPUTS[res.type] ?? Object.keys(res.inputs).slice(0, 3);
  return paths.filter((p) => at(res.inputs, p) !== undefined).map((p) => `${p}=${show(at(res.inputs, p))}`);
}

function flags(res: RenderedResource): string[] {
  return [
    res.read ? "read, not managed" : "",
    res.protect ? "protected" : "",
    res.retainOnDelete ? "kept on delete" : "",
    res.deleteBeforeReplace ? "replaced delete-first" : "",
    res.aliases?.length ? `formerly ${res.aliases.map(shortName).join(", ")}` : "",
    res.secretInputs.length ? `secret: ${res.secretInputs.join(", ")}` : "",
  ].filter(Boolean);
}

/** What the stack needs from outside itself (its `externalPrerequisites` output), one line each. */
export function prerequisites(r: Pick<Rendering, "outputs">): string[] {
  const value = r.outputs.externalPrerequisites;
  return Array.isArray(value) ? value.map(String) : [];
}

/** Resources grouped under their component (or "stack" for top-level ones), components in URN order. */
export function groupByComponent(r: Rendering): { title: string; resources: RenderedResource[] }[] {
  const components = r.resources.filter((x) => !x.custom && x.type !== "pulumi:pulumi:Stack");
  const groups = components.map((c) => ({ title: `${c.type.replace(/^dcs:index:/, "")} "${c.name}"`, urn: c.urn, resources: [] as RenderedResource[] }));
  const top = { title: "Stack", urn: "", resources: [] as RenderedResource[] };
  for (const res of r.resources.filter((x) => x.custom || x.type.startsWith("pulumi:providers:"))) {
    (groups.find((g) => g.urn === res.parent) ?? top).resources.push(res);
  }
  return [...groups, top].filter((g) => g.resources.length > 0 || groups.includes(g));
}

/** The readable terminal summary. */
export function toSummary(r: Rendering): string {
  const lines: string[] = [];
  const count = r.resources.filter((x) => x.custom).length;
  lines.push(`${r.project} / stack ${r.stack}: ${count} resources, rendered offline (nothing was deployed, no cloud was called)`);
  for (const group of groupByComponent(r)) {
    lines.push("", group.title);
    if (group.resources.length === 0) lines.push("    (no resources)");
    for (const res of group.resources) {
      const f = flags(res);
      lines.push(`  + ${res.name}  [${res.type}]${f.length ? `  (${f.join("; ")})` : ""}`);
      for (const kv of keyInputs(res)) lines.push(`      ${kv}`);
    }
  }
  lines.push("", "Outputs");
  for (const [k, v] of Object.entries(r.outputs)) lines.push(`  ${k}: ${show(v)}`);
  if (prerequisites(r).length) {
    lines.push("", "External prerequisites (someone outside this stack must do these before it deploys)");
    for (const p of prerequisites(r)) lines.push(`  * ${p}`);
  }
  if (r.invokes.length) {
    lines.push("", "Lookups answered offline");
    for (const i of r.invokes) lines.push(`  ${i.token} <- ${i.answeredFrom}`);
  }
  if (r.warnings.length) {
    lines.push("", "Warnings");
    for (const w of r.warnings) lines.push(`  ! ${w}`);
  }
  lines.push("", `Guardrails (policy/): ${r.findings.filter((f) => f.enforcement === "mandatory").length} mandatory violation(s), ${r.findings.filter((f) => f.enforcement === "advisory").length} advisory`);
  for (const f of r.findings) lines.push(`  ${f.enforcement === "mandatory" ? "x" : "!"} [${f.policy}] ${f.message}`);
  if (r.placeholderSecrets.length) {
    lines.push("", `Secrets not in Pulumi.${r.stack}.yaml, rendered with placeholders: ${r.placeholderSecrets.join(", ")}`);
  }
  lines.push("", "Values shown as (computed: ...) are assigned by the cloud on deployment.");
  return `${lines.join("\n")}\n`;
}

function mermaidId(urn: string): string {
  return `n_${urn.replace(/[^A-Za-z0-9]/g, "_").replace(/^urn_pulumi_[^_]*__/, "")}`;
}

function mermaidLabel(text: string): string {
  return text.replace(/"/g, "'");
}

/** A Mermaid flowchart: components as subgraphs, resources as nodes, dependencies as edges. */
export function toMermaid(r: Rendering): string {
  const lines = ["flowchart LR"];
  const known = new Set(r.resources.map((x) => x.urn));
  for (const group of groupByComponent(r)) {
    const inner = group.resources.map((res) => `    ${mermaidId(res.urn)}["${mermaidLabel(`${res.name}<br/><small>${res.type}</small>`)}"]`);
    if (group.title === "Stack") lines.push(...inner.map((l) => l.slice(2)));
    else lines.push(`  subgraph ${mermaidId(group.title)}["${mermaidLabel(group.title)}"]`, ...inner, "  end");
  }
  for (const res of r.resources.filter((x) => x.custom || x.type.startsWith("pulumi:providers:"))) {
    for (const dep of res.dependencies) {
      if (known.has(dep) && (r.resources.find((x) => x.urn === dep)?.custom ?? false)) lines.push(`  ${mermaidId(dep)} --> ${mermaidId(res.urn)}`);
    }
  }
  return lines.join("\n");
}

/** The Markdown report: summary table, graph, outputs, warnings. */
export function toMarkdown(r: Rendering): string {
  const out: string[] = [];
  out.push(`# ${r.project}: stack \`${r.stack}\``, "");
  out.push("Rendered offline from the stack file: nothing was deployed and no cloud was called. `(computed: ...)` marks values the cloud assigns.", "");
  out.push("## Resources", "", "| Component | Resource | Type | Key inputs | Options |", "| --- | --- | --- | --- | --- |");
  for (const group of groupByComponent(r)) {
    for (const res of group.resources) {
      out.push(`| ${group.title} | \`${res.name}\` | \`${res.type}\` | ${keyInputs(res).map((k) => `\`${k.replace(/\|/g, "\\|")}\``).join("<br>")} | ${flags(res).join("; ")} |`);
    }
  }
  out.push("", "## Graph", "", "```mermaid", toMermaid(r), "```", "", "## Outputs", "", "| Output | Value |", "| --- | --- |");
  for (const [k, v] of Object.entries(r.outputs)) out.push(`| \`${k}\` | \`${show(v).replace(/\|/g, "\\|")}\` |`);
  if (prerequisites(r).length) out.push("", "## External prerequisites", "", "Someone outside this stack must do these before it deploys:", "", ...prerequisites(r).map((p) => `- ${p}`));
  if (r.warnings.length) out.push("", "## Warnings", "", ...r.warnings.map((w) => `- ${w}`));
  out.push("", "## Guardrails", "");
  if (r.findings.length === 0) out.push("No policy of `policy/` reports anything.");
  for (const f of r.findings) out.push(`- **${f.enforcement}** \`${f.policy}\`: ${f.message}`);
  if (r.placeholderSecrets.length) out.push("", "## Placeholder secrets", "", ...r.placeholderSecrets.map((k) => `- \`${k}\` (not in the stack file)`));
  return `${out.join("\n")}\n`;
}

/** One changed value at a dotted path. */
export interface ValueChange {
  path: string;
  before: unknown;
  after: unknown;
}

/** What a change to a cluster does to it when it is running. */
export type ClusterEffect = "restart" | "resize" | "none";

/**
 * Inputs whose change the provider applies without touching the cluster
 * (terraform-provider-databricks clusters/resource_cluster.go,
 * `hasClusterConfigChanged`: libraries, pinning and no_wait are left out).
 */
const CLUSTER_NO_EFFECT = [/^libraries/, /^isPinned$/, /^noWait$/];
/** Inputs the provider applies to a running cluster with the Resize API, without a restart (resourceClusterUpdate). */
const CLUSTER_RESIZE = [/^autoscale\./, /^autoscale$/, /^numWorkers$/];

/** The effect of one changed input path of a cluster (the path as the diff prints it, under `inputs.`). */
export function clusterPathEffect(changedPath: string): ClusterEffect {
  const p = changedPath.replace(/^inputs\./, "");
  if (changedPath.startsWith("options.")) return "none";
  if (CLUSTER_NO_EFFECT.some((re) => re.test(p))) return "none";
  if (CLUSTER_RESIZE.some((re) => re.test(p))) return "resize";
  return "restart";
}

/**
 * The effect of a set of changes on a running cluster: any change outside the
 * size makes the provider call Edit, which restarts a running cluster (and the
 * provider does not wait for it); a change of size alone is a Resize.
 */
export function clusterEffect(changes: ValueChange[]): ClusterEffect {
  const effects = changes.map((c) => clusterPathEffect(c.path));
  if (effects.includes("restart")) return "restart";
  return effects.includes("resize") ? "resize" : "none";
}

const CLUSTER_TYPE = "databricks:index/cluster:Cluster";

/** What changed between two renderings. */
export interface RenderingDiff {
  added: string[];
  removed: string[];
  changed: { urn: string; changes: ValueChange[]; effect?: ClusterEffect }[];
  outputs: ValueChange[];
}

function flatten(value: unknown, prefix: string, out: Map<string, unknown>): Map<string, unknown> {
  if (isObject(value) && Object.keys(value).length > 0) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (Array.isArray(value) && value.length > 0) {
    value.forEach((v, i) => flatten(v, `${prefix}[${i}]`, out));
  } else {
    out.set(prefix, value);
  }
  return out;
}

function compare(before: unknown, after: unknown): ValueChange[] {
  const a = flatten(before, "", new Map());
  const b = flatten(after, "", new Map());
  const paths = [...new Set([...a.keys(), ...b.keys()])].sort();
  return paths.filter((p) => JSON.stringify(a.get(p)) !== JSON.stringify(b.get(p))).map((p) => ({ path: p, before: a.get(p), after: b.get(p) }));
}

interface ComparableResource {
  urn: string;
  inputs: unknown;
  protect: boolean;
  retainOnDelete: boolean;
  dependencies: string[];
}

/** Compares two rendering documents (as parsed from their JSON). */
export function diffRenderings(before: { resources: ComparableResource[]; outputs: Record<string, unknown> }, after: { resources: ComparableResource[]; outputs: Record<string, unknown> }): RenderingDiff {
  const old = new Map(before.resources.map((x) => [x.urn, x]));
  const now = new Map(after.resources.map((x) => [x.urn, x]));
  const added = [...now.keys()].filter((u) => !old.has(u)).sort();
  const removed = [...old.keys()].filter((u) => !now.has(u)).sort();
  const changed = [...now.keys()]
    .filter((u) => old.has(u))
    .sort()
    .map((urn) => {
      const o = old.get(urn)!;
      const n = now.get(urn)!;
      const view = (x: ComparableResource) => ({ inputs: x.inputs, options: { protect: x.protect, retainOnDelete: x.retainOnDelete } });
      const changes = compare(view(o), view(n));
      return urnType(urn) === CLUSTER_TYPE ? { urn, changes, effect: clusterEffect(changes) } : { urn, changes };
    })
    .filter((c) => c.changes.length > 0);
  return { added, removed, changed, outputs: compare(before.outputs, after.outputs) };
}

/** The diff as Markdown, for a terminal or a pull request's job summary. */
export function diffToMarkdown(d: RenderingDiff, stack: string): string {
  const label = (urn: string) => `\`${shortName(urn)}\` (${urnType(urn)})`;
  const out = [`### Stack \`${stack}\`: offline rendering compared with the base`, ""];
  if (!d.added.length && !d.removed.length && !d.changed.length && !d.outputs.length) {
    out.push("No changes to the desired state.");
    return `${out.join("\n")}\n`;
  }
  out.push(`${d.added.length} to add, ${d.changed.length} to change, ${d.removed.length} to remove.`, "");
  for (const urn of d.added) out.push(`- **+ add** ${label(urn)}`);
  for (const urn of d.removed) out.push(`- **- remove** ${label(urn)}`);
  const restarts = d.changed.filter((c) => c.effect === "restart");
  if (restarts.length) {
    out.push(`> **Restarts:** ${restarts.map((c) => `\`${shortName(c.urn)}\``).join(", ")} will restart if running when this deploys (\`pulumi up\` does not wait for the restart; the pipeline's cluster check does).`, "");
  }
  const effectNote: Record<ClusterEffect, string> = { restart: " (restarts the cluster if it is running)", resize: " (resizes a running cluster, no restart)", none: " (no effect on a running cluster)" };
  const pathNote: Record<ClusterEffect, string> = { restart: " [restart]", resize: " [resize]", none: "" };
  for (const c of d.changed) {
    out.push(`- **~ change** ${label(c.urn)}${c.effect ? effectNote[c.effect] : ""}`);
    for (const ch of c.changes) out.push(`  - \`${ch.path}\`: \`${show(ch.before)}\` -> \`${show(ch.after)}\`${c.effect ? pathNote[clusterPathEffect(ch.path)] : ""}`);
  }
  if (d.outputs.length) {
    out.push("", "Outputs:");
    for (const ch of d.outputs) out.push(`- \`${ch.path}\`: \`${show(ch.before)}\` -> \`${show(ch.after)}\``);
  }
  return `${out.join("\n")}\n`;
}
