/**
 * TeamClusterPolicy: one Databricks cluster policy per team for
 * custom-container clusters, and CAN_USE on it for the team's group.
 *
 * The policy is checked by Databricks on every create and edit of a cluster
 * that names it, whoever sends the request (UI, REST API, a job, this
 * program). It binds clusters a team member creates anywhere only when the
 * team's group has no unrestricted cluster creation: a principal allowed to
 * create clusters freely can pick "no policy". That entitlement is workspace
 * configuration outside this component.
 *
 * What the definition enforces:
 * - the image comes from an approved registry: `docker_image.url` must be
 *   `<approved host>/<repository>` then `:<tag>` or `@sha256:<64 hex>`;
 *   tags are allowed, so a mutable tag such as `latest` is not refused here
 *   (the program itself only ever sends digests or content tags: naming.ts);
 * - the registry password is a `{{secrets/<scope>/<key>}}` reference, never
 *   the secret itself (Databricks shows basic-auth values to other users);
 * - dedicated (single-user) access mode, in either spelling: custom
 *   containers do not run in standard (shared) mode;
 * - an allowlisted runtime; ML, GPU and Genomics runtimes are refused at
 *   construction (they take no custom container), and so are Photon keys;
 * - Photon off: `runtime_engine` may only be STANDARD, and may be left unset
 *   (which is standard for a key without `-photon-`). Photon does not run on
 *   GPU instance types (Azure Databricks, "GPU-enabled compute": "Photon is not
 *   supported with GPU instance types"), and a policy cannot tell GPU clusters
 *   from others, so it is off for all of a team's custom-container clusters:
 *   their work is Dask's, which Photon (an engine for Spark SQL) does not run;
 * - an autotermination range with a default; 0 (never terminate) is outside
 *   any valid range, so it is refused too;
 * - cost tags: fixed to a value, or required with any non-blank value;
 * - usable for all-purpose and job clusters.
 *
 * Policy language, as checked against its sources (paraphrased):
 * - Compute policy reference (docs.databricks.com/admin/clusters/policy-definition,
 *   learn.microsoft.com/azure/databricks/admin/clusters/policy-definition, and
 *   the MicrosoftDocs zh-cn copy of the older "Manage cluster policies" page
 *   with the full type definitions): a definition maps an attribute path
 *   (nested names joined by dots) to one rule; rule types are `fixed`
 *   (`value`, optional `hidden`), `forbidden`, `allowlist` / `blocklist`
 *   (`values`), `regex` (`pattern`, matched against the whole value: the
 *   pattern is anchored at both ends), `range` (`minValue` / `maxValue`) and
 *   `unlimited`; limiting rules take `defaultValue` and `isOptional`, and a
 *   limiting rule makes its attribute required unless `isOptional` is true.
 *   `hidden` is documented on fixed rules only, so the password's regex rule
 *   is not hidden. Paths used: `docker_image.url`,
 *   `docker_image.basic_auth.password`, `spark_version`, `runtime_engine`,
 *   `data_security_mode`, `autotermination_minutes`, `custom_tags.<tag>`,
 *   and the virtual path `cluster_type` whose values include `all-purpose`
 *   and `job` (a policy that disallows a type is not offered in that form).
 *   `kind` is not a documented path and is not used.
 * - terraform-provider-databricks: its exporter tests write definitions with
 *   `"type": "allowlist"` / `"values"`, `"type": "regex"` / `"pattern"`,
 *   `isOptional`, `defaultValue`, `maxValue`, and a
 *   `docker_image.basic_auth.password` rule holding a secret reference
 *   (exporter/impl_compute_test.go); the cluster resource treats
 *   `DATA_SECURITY_MODE_DEDICATED` as an alias of `SINGLE_USER` and
 *   suppresses that diff (clusters/resource_cluster.go, docs/resources/cluster.md);
 *   the cluster_policy resource sets the Terraform id to the API's policy_id
 *   (policies/resource_cluster_policy.go), so `id` and `policyId` are the
 *   same value; its docs grant CAN_USE with `databricks_permissions`
 *   `cluster_policy_id` and an access control per group.
 * - Clusters API (provider docs for `autotermination_minutes`): a set
 *   threshold must lie between 10 and 10000 minutes; 0 disables it.
 *
 * Clusters that use the policy declare every value it fixes themselves
 * (`policyFixedValues`) instead of `applyPolicyDefaultValues`, which gives a
 * diff on every plan (provider issues #3985, #3653).
 *
 * The Permissions resource is authoritative for the policy: grants on it made
 * by hand (UI) are removed on the next `up`. Admins keep access regardless.
 */
import * as pulumi from "@pulumi/pulumi";
import * as databricks from "@pulumi/databricks";
import { RESERVED_CLUSTER_TAGS } from "./dcsCluster";
import { isPhotonRuntime } from "./gpu";
import { childName, unsupportedRuntimeReason } from "./naming";

/** What a team's custom-container clusters may be. */
export interface PolicyRules {
  /** Approved registry hosts, e.g. dcshydrologydev.azurecr.io (no scheme, no path). */
  registries: string[];
  /** Allowed runtime keys, non-ML LTS, e.g. 16.4.x-scala2.12. The first is the form's default. */
  sparkVersions: string[];
  /** Autotermination range and default, in minutes (10..10000). */
  autotermination: { min: number; max: number; default: number };
  /** Tag -> fixed value, or undefined: required with any non-blank value. */
  costTags: Record<string, string | undefined>;
  /**
   * The kind of compute the policy is for. A job's cluster cannot send
   * `autotermination_minutes` (provider docs, job new_cluster), so a policy that
   * requires it would refuse job clusters: a team gets one policy for its
   * all-purpose clusters (with the auto-termination range) and one for its job
   * clusters (without). Default: both kinds, with the range.
   */
  clusterType?: "all-purpose" | "job";
}

/** Access modes a policy accepts for dedicated compute: both spellings (the second reads back as the first). */
export const DEDICATED_ACCESS_MODES: readonly string[] = ["SINGLE_USER", "DATA_SECURITY_MODE_DEDICATED"];
/** Cluster types the policy is offered for: all-purpose clusters and job clusters. */
export const POLICY_CLUSTER_TYPES: readonly string[] = ["all-purpose", "job"];
/** Autotermination bounds the Clusters API accepts for a set threshold, in minutes. */
export const AUTOTERMINATION_LIMITS = { min: 10, max: 10000 } as const;
/** Most characters a policy name may have (provider docs: 1 to 100). */
export const POLICY_NAME_MAX = 100;

/** A registry host: dot-separated lowercase labels, an optional port; never a scheme or a path. */
const REGISTRY_HOST = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+(?::[0-9]{1,5})?$/;
/** A runtime key as the Clusters API names them: `<major>.<minor>.x-...`. */
const RUNTIME_KEY = /^[0-9]+\.[0-9]+\.x-[a-z0-9.-]+$/;
/** Characters Azure refuses in a tag name. */
const AZURE_TAG_NAME_FORBIDDEN = /[<>%&\\?/]/;

/** Escapes regex metacharacters, so `.` in a host is a dot, not any character. */
function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** One Docker repository path component: lowercase alphanumerics joined by `.`, `_`, `__` or dashes (Docker reference grammar). */
const REPO_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
/** A Docker tag: a word character, then up to 127 word characters, dots or dashes. */
const TAG = "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}";

/**
 * The `docker_image.url` pattern: an approved host, a repository, then a tag
 * or a sha256 digest. No anchors: Databricks anchors a policy regex at both
 * ends; the host alternation is grouped so the anchors bind all of it.
 */
export function imageUrlPattern(registries: readonly string[]): string {
  const hosts = registries.map(escapeRegex).join("|");
  return `(?:${hosts})/${REPO_COMPONENT}(?:/${REPO_COMPONENT})*(?::${TAG}|@sha256:[0-9a-f]{64})`;
}

/** The `docker_image.basic_auth.password` pattern: a `{{secrets/<scope>/<key>}}` reference and nothing else (scope and key characters as pullSecret.ts). */
export const SECRET_REFERENCE_PATTERN = "\\{\\{secrets/[A-Za-z0-9_.-]{1,128}/[A-Za-z0-9_.-]{1,128}\\}\\}";

/** The pattern for a required tag: any value with at least one non-blank character. */
export const NON_BLANK_PATTERN = ".*\\S.*";

/** Problems with a rule set, as messages; empty when valid. */
export function validatePolicyRules(rules: PolicyRules): string[] {
  const problems: string[] = [];
  if (rules.registries.length === 0) problems.push("at least one approved registry is required");
  for (const host of rules.registries) {
    if (!REGISTRY_HOST.test(host)) problems.push(`registry "${host}" is not a registry host such as myregistry.azurecr.io (lowercase, no scheme, no path)`);
  }
  if (new Set(rules.registries).size !== rules.registries.length) problems.push("registries are listed more than once");

  if (rules.sparkVersions.length === 0) problems.push("at least one runtime (sparkVersions) is required");
  for (const key of rules.sparkVersions) {
    const reason = unsupportedRuntimeReason(key);
    if (reason) problems.push(`runtime ${key}: ${reason}`);
    else if (isPhotonRuntime(key)) problems.push(`runtime ${key} runs Photon, which the policy keeps off (it does not run on GPU nodes); list the standard key`);
    else if (!RUNTIME_KEY.test(key)) problems.push(`runtime "${key}" is not a runtime key such as 16.4.x-scala2.12`);
  }
  if (new Set(rules.sparkVersions).size !== rules.sparkVersions.length) problems.push("runtimes are listed more than once");

  const { min, max, default: def } = rules.autotermination;
  for (const [label, v] of [["min", min], ["max", max], ["default", def]] as const) {
    if (!Number.isInteger(v)) problems.push(`autotermination.${label} must be a whole number of minutes, got ${v}`);
  }
  if (min < AUTOTERMINATION_LIMITS.min) problems.push(`autotermination.min ${min} is below ${AUTOTERMINATION_LIMITS.min} minutes (0 would allow clusters that never terminate)`);
  if (max > AUTOTERMINATION_LIMITS.max) problems.push(`autotermination.max ${max} is above ${AUTOTERMINATION_LIMITS.max} minutes`);
  if (min > max) problems.push(`autotermination.min ${min} is above autotermination.max ${max}`);
  else if (def < min || def > max) problems.push(`autotermination.default ${def} is outside ${min}..${max}`);

  for (const [tag, value] of Object.entries(rules.costTags)) {
    if (tag.trim() === "") problems.push("a cost tag has an empty name");
    else if (AZURE_TAG_NAME_FORBIDDEN.test(tag)) problems.push(`cost tag "${tag}" contains a character Azure refuses in tag names (< > % & \\ ? /)`);
    if (RESERVED_CLUSTER_TAGS.some((r) => r.toLowerCase() === tag.toLowerCase())) problems.push(`cost tag "${tag}" is reserved by Databricks`);
    if (value !== undefined && value.trim() === "") problems.push(`cost tag "${tag}" has a blank fixed value; leave it undefined to require any value`);
  }
  return problems;
}

/**
 * The policy definition (serialise with JSON.stringify). Pure: call
 * validatePolicyRules first; the component does.
 */
export function policyDefinition(rules: PolicyRules): Record<string, unknown> {
  const definition: Record<string, unknown> = {
    cluster_type: rules.clusterType ? { type: "fixed", value: rules.clusterType } : { type: "allowlist", values: [...POLICY_CLUSTER_TYPES] },
    spark_version: { type: "allowlist", values: [...rules.sparkVersions], defaultValue: rules.sparkVersions[0] },
    data_security_mode: { type: "allowlist", values: [...DEDICATED_ACCESS_MODES], defaultValue: DEDICATED_ACCESS_MODES[0] },
    "docker_image.url": { type: "regex", pattern: imageUrlPattern(rules.registries) },
    "docker_image.basic_auth.password": { type: "regex", pattern: SECRET_REFERENCE_PATTERN },
    runtime_engine: { type: "allowlist", values: ["STANDARD"], isOptional: true },
  };
  if (rules.clusterType !== "job") {
    definition.autotermination_minutes = {
      type: "range",
      minValue: rules.autotermination.min,
      maxValue: rules.autotermination.max,
      defaultValue: rules.autotermination.default,
    };
  }
  for (const [tag, value] of Object.entries(rules.costTags)) {
    definition[`custom_tags.${tag}`] = value !== undefined ? { type: "fixed", value } : { type: "regex", pattern: NON_BLANK_PATTERN };
  }
  return definition;
}

/** The custom tags a cluster must set itself to satisfy the policy's fixed rules (tag -> value). */
export function policyFixedValues(rules: PolicyRules): Record<string, string> {
  return Object.fromEntries(Object.entries(rules.costTags).filter((e): e is [string, string] => e[1] !== undefined));
}

/** The policy name when none is given. */
export function defaultPolicyName(team: string): string {
  return `dcs-${team}-custom-containers`;
}

export interface TeamClusterPolicyArgs {
  /** Team the policy is for; names the policy by default. */
  team: string;
  /** Databricks group that gets CAN_USE on the policy. */
  groupName: string;
  /** Service principals (application ids) that also get CAN_USE: those the team's jobs run as. Default: none. */
  servicePrincipals?: string[];
  /** What the team's clusters may be. */
  rules: PolicyRules;
  /** Workspace-level Databricks provider. */
  provider: databricks.Provider;
  /** Policy name (unique in the workspace, 1 to 100 characters). Default: dcs-<team>-custom-containers. */
  policyName?: string;
}

/** Problems with TeamClusterPolicyArgs, as messages; empty when valid. */
export function validateTeamClusterPolicyArgs(args: Pick<TeamClusterPolicyArgs, "team" | "groupName" | "rules" | "policyName">): string[] {
  const problems: string[] = [];
  if (args.team.trim() === "") problems.push("team is empty");
  if (args.groupName.trim() === "") problems.push("groupName is empty");
  const policyName = args.policyName ?? defaultPolicyName(args.team);
  if (policyName.trim() === "" || policyName.length > POLICY_NAME_MAX) problems.push(`policy name "${policyName}" must be 1 to ${POLICY_NAME_MAX} characters`);
  return [...problems, ...validatePolicyRules(args.rules)];
}

export class TeamClusterPolicy extends pulumi.ComponentResource {
  /** The policy's id, for a cluster's `policyId` (the provider's `id`, which is the API's policy_id). */
  public readonly policyId: pulumi.Output<string>;
  /** The policy's name in the workspace. */
  public readonly policyName: string;
  /** The policy definition, as declared. */
  public readonly definition: Record<string, unknown>;

  constructor(name: string, args: TeamClusterPolicyArgs, opts?: pulumi.ComponentResourceOptions) {
    // Rejected before registration: nothing, not even this component, is declared.
    const problems = validateTeamClusterPolicyArgs(args);
    if (problems.length > 0) throw new Error(`TeamClusterPolicy "${name}": ${problems.join("; ")}`);
    super("dcs:index:TeamClusterPolicy", name, {}, opts);

    const { team, groupName, rules, provider } = args;
    const childOpts = { parent: this, provider };
    this.policyName = args.policyName ?? defaultPolicyName(team);
    this.definition = policyDefinition(rules);

    const policy = new databricks.ClusterPolicy(
      childName(name, "policy"),
      {
        name: this.policyName,
        definition: JSON.stringify(this.definition),
        description: `Custom-container clusters of team ${team}: images from ${rules.registries.join(", ")}; runtimes ${rules.sparkVersions.join(", ")}; dedicated access mode. Managed by dcs-platform.`,
      },
      childOpts,
    );
    new databricks.Permissions(
      childName(name, "can-use"),
      {
        clusterPolicyId: policy.id,
        accessControls: [{ groupName, permissionLevel: "CAN_USE" }, ...(args.servicePrincipals ?? []).map((servicePrincipalName) => ({ servicePrincipalName, permissionLevel: "CAN_USE" }))],
      },
      childOpts,
    );

    this.policyId = policy.id;
    this.registerOutputs({ policyId: this.policyId, policyName: this.policyName, definition: this.definition });
  }
}
