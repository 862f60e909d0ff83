/**
 * The dcs guardrails as plain functions: each takes a resource (type, name,
 * props, protect) and the whole stack, and returns violation messages. The
 * policy pack (policy/index.ts) wires them into CrossGuard; the offline
 * renderer and the tests call them directly. No logic lives anywhere else.
 *
 * A value that is not known yet (undefined during a preview, or a
 * "(computed: ...)" placeholder of the offline renderer) never violates.
 */

import { unsupportedRuntimeReason } from "../components/naming";

export const REGISTRY = "azure-native:containerregistry:Registry";
export const CLUSTER = "databricks:index/cluster:Cluster";

/** A resource as a guardrail sees it. */
export interface GuardedResource {
  type: string;
  name: string;
  urn?: string;
  props: Record<string, unknown>;
  /** The `protect` resource option. */
  protect?: boolean;
}

/** Settings of the pack (PulumiPolicy config or `--policy-pack-config`). */
export interface GuardrailConfig {
  /** Longest auto-termination allowed without the longRunning tag. */
  maxAutoterminationMinutes: number;
  /** Tags every cluster should carry for cost reports. */
  costTags: string[];
  /** `environment` tag values whose registries must be protected. */
  protectedEnvironments: string[];
}

export const DEFAULT_CONFIG: GuardrailConfig = {
  maxAutoterminationMinutes: 120,
  costTags: ["team", "costCenter", "environment"],
  protectedEnvironments: ["prod"],
};

export type Enforcement = "mandatory" | "advisory";

export interface Guardrail {
  name: string;
  description: string;
  enforcement: Enforcement;
  /** Resource types it looks at. */
  types: string[];
  /** "resource": needs only the resource; "stack": compares it with the rest of the stack. */
  scope: "resource" | "stack";
  /** Config keys it reads (documented in the pack's config schema). */
  configKeys?: (keyof GuardrailConfig)[];
  check(resource: GuardedResource, stack: GuardedResource[], config: GuardrailConfig): string[];
}

/** One reported violation. */
export interface Finding {
  policy: string;
  enforcement: Enforcement;
  resource: string;
  message: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** Not known yet: undefined in a preview, or a placeholder of the offline renderer. */
export function isUnknown(v: unknown): boolean {
  return v === undefined || (typeof v === "string" && v.startsWith("(computed:"));
}

function at(props: Record<string, unknown>, dotted: string): unknown {
  return dotted.split(".").reduce<unknown>((v, k) => (isObject(v) ? v[k] : undefined), props);
}

function tagsOf(r: GuardedResource): Record<string, unknown> {
  const tags = r.type === CLUSTER ? r.props.customTags : r.props.tags;
  return isObject(tags) ? tags : {};
}

/** Hosts a stack's registries serve images from. */
export function registryHosts(stack: GuardedResource[]): string[] {
  const hosts = new Set<string>();
  for (const r of stack.filter((x) => x.type === REGISTRY)) {
    if (typeof r.props.loginServer === "string" && !isUnknown(r.props.loginServer)) hosts.add(r.props.loginServer.toLowerCase());
    if (typeof r.props.registryName === "string") hosts.add(`${r.props.registryName.toLowerCase()}.azurecr.io`);
  }
  return [...hosts].sort();
}

const DEDICATED_MODES = ["SINGLE_USER", "DATA_SECURITY_MODE_DEDICATED", "LEGACY_SINGLE_USER"];
const DIGEST_REF = /^[a-z0-9.-]+(:\d+)?\/[a-z0-9._/-]+@sha256:[0-9a-f]{64}$/;

export const GUARDRAILS: Guardrail[] = [
  {
    name: "acr-admin-user-disabled",
    description: "The ACR admin user is off: its shared password cannot be scoped, rotated per consumer, or audited.",
    enforcement: "mandatory",
    types: [REGISTRY],
    scope: "resource",
    check: (r) =>
      r.props.adminUserEnabled === true && tagsOf(r).environment !== "dev"
        ? [`registry ${r.name} enables the admin user; use service principals with AcrPull/AcrPush (only a dev stack may enable it explicitly)`]
        : [],
  },
  {
    name: "acr-admin-user-dev-only",
    description: "A dev registry that explicitly enables the admin user is reported, not blocked.",
    enforcement: "advisory",
    types: [REGISTRY],
    scope: "resource",
    check: (r) => (r.props.adminUserEnabled === true && tagsOf(r).environment === "dev" ? [`dev registry ${r.name} enables the admin user; turn it off once pushes use a service principal`] : []),
  },
  {
    name: "acr-anonymous-pull-disabled",
    description: "Anonymous pull is off, so only granted identities can pull the team's images.",
    enforcement: "mandatory",
    types: [REGISTRY],
    scope: "resource",
    check: (r) => (r.props.anonymousPullEnabled === true ? [`registry ${r.name} allows anonymous pull; set anonymousPullEnabled to false`] : []),
  },
  {
    name: "cluster-image-by-digest",
    description: "Clusters boot from an immutable image reference (<host>/<repo>@sha256:<digest>), never a movable tag.",
    enforcement: "mandatory",
    types: [CLUSTER],
    scope: "resource",
    check: (r) => {
      const url = at(r.props, "dockerImage.url");
      if (!isObject(r.props.dockerImage) || isUnknown(url)) return [];
      return DIGEST_REF.test(String(url)) ? [] : [`cluster ${r.name} runs image "${String(url)}", which is not a digest reference (<host>/<repo>@sha256:<digest>)`];
    },
  },
  {
    name: "cluster-image-from-stack-registry",
    description: "The cluster's image comes from the registry this stack declares.",
    enforcement: "mandatory",
    types: [CLUSTER],
    scope: "stack",
    check: (r, stack) => {
      const url = at(r.props, "dockerImage.url");
      if (!isObject(r.props.dockerImage) || isUnknown(url)) return [];
      const host = String(url).split("/")[0].toLowerCase();
      const hosts = registryHosts(stack);
      return hosts.includes(host) ? [] : [`cluster ${r.name} pulls from ${host}, not from this stack's registry (${hosts.join(", ") || "none declared"})`];
    },
  },
  {
    name: "cluster-image-basic-auth",
    description: "A cluster pulling from a private registry carries basic auth (username and password both set).",
    enforcement: "mandatory",
    types: [CLUSTER],
    scope: "stack",
    check: (r, stack) => {
      if (!isObject(r.props.dockerImage)) return [];
      const registries = stack.filter((x) => x.type === REGISTRY);
      const allPublic = registries.length > 0 && registries.every((x) => x.props.anonymousPullEnabled === true);
      if (allPublic) return [];
      const auth = at(r.props, "dockerImage.basicAuth");
      // The block is a literal in the program, so its absence is known; a field
      // that is undefined may be a value not known yet, and an empty one is missing.
      const missing = auth === undefined ? ["username", "password"] : isObject(auth) ? ["username", "password"].filter((k) => auth[k] === "" || auth[k] === null) : [];
      return missing.length ? [`cluster ${r.name} pulls from a private registry without basic auth (${missing.join(" and ")} missing)`] : [];
    },
  },
  {
    name: "cluster-dedicated-access-mode",
    description: "Custom containers do not run in standard (shared) access mode: clusters are single-user (dedicated).",
    enforcement: "mandatory",
    types: [CLUSTER],
    scope: "resource",
    check: (r) => {
      const mode = r.props.dataSecurityMode;
      if (isUnknown(mode)) return [];
      return DEDICATED_MODES.includes(String(mode)) ? [] : [`cluster ${r.name} uses access mode ${String(mode)}; custom containers need SINGLE_USER (dedicated)`];
    },
  },
  {
    name: "cluster-runtime-supports-containers",
    description: "ML and Genomics runtimes do not support custom containers.",
    enforcement: "mandatory",
    types: [CLUSTER],
    scope: "resource",
    check: (r) => {
      const v = r.props.sparkVersion;
      if (isUnknown(v)) return [];
      const reason = unsupportedRuntimeReason(String(v));
      return reason ? [`cluster ${r.name} runs ${String(v)}: ${reason}`] : [];
    },
  },
  {
    name: "cluster-auto-termination",
    description: "Clusters stop when idle: auto-termination is set, and at most the configured cap unless tagged longRunning=true.",
    enforcement: "mandatory",
    types: [CLUSTER],
    scope: "resource",
    configKeys: ["maxAutoterminationMinutes"],
    check: (r, _stack, config) => {
      const minutes = r.props.autoterminationMinutes;
      if (isUnknown(minutes) && r.props.autoterminationMinutes !== undefined) return [];
      const n = Number(minutes ?? 0);
      if (!(n > 0)) return [`cluster ${r.name} never auto-terminates; set autoterminationMinutes (dcs:cluster.autoterminationMinutes)`];
      if (n > config.maxAutoterminationMinutes && tagsOf(r).longRunning !== "true") {
        return [`cluster ${r.name} auto-terminates after ${n} minutes, above the ${config.maxAutoterminationMinutes}-minute cap; lower it or opt out with dcs:cluster.longRunning: true`];
      }
      return [];
    },
  },
  {
    name: "registry-protected-in-prod",
    description: "A registry of a protected environment (prod) is protected from deletion.",
    enforcement: "mandatory",
    types: [REGISTRY],
    scope: "resource",
    configKeys: ["protectedEnvironments"],
    check: (r, _stack, config) => {
      const env = tagsOf(r).environment;
      return typeof env === "string" && config.protectedEnvironments.includes(env) && r.protect !== true
        ? [`registry ${r.name} of environment ${env} is not protected from deletion; set the protect option (dcs:registry.protect: true)`]
        : [];
    },
  },
  {
    name: "init-scripts-not-on-dbfs",
    description: "Init scripts on DBFS are deprecated; use workspace files or Unity Catalog volumes.",
    enforcement: "advisory",
    types: [CLUSTER],
    scope: "resource",
    check: (r) => {
      const scripts = Array.isArray(r.props.initScripts) ? r.props.initScripts : [];
      const onDbfs = scripts.filter((s) => isObject(s) && isObject(s.dbfs)).map((s) => String(at(s as Record<string, unknown>, "dbfs.destination")));
      return onDbfs.length ? [`cluster ${r.name} runs init scripts from DBFS (${onDbfs.join(", ")}); switch with dcs:initScripts.store workspace or volumes`] : [];
    },
  },
  {
    name: "cluster-cost-tags",
    description: "Clusters carry the cost tags (team, costCenter, environment by default).",
    enforcement: "advisory",
    types: [CLUSTER],
    scope: "resource",
    configKeys: ["costTags"],
    check: (r, _stack, config) => {
      if (isUnknown(r.props.customTags) && r.props.customTags !== undefined) return [];
      const tags = tagsOf(r);
      const missing = config.costTags.filter((t) => typeof tags[t] !== "string" || tags[t] === "");
      return missing.length ? [`cluster ${r.name} lacks cost tags: ${missing.join(", ")}`] : [];
    },
  },
];

/** The pack's config with defaults for what is not set. */
export function withDefaults(config: Partial<GuardrailConfig> = {}): GuardrailConfig {
  return { ...DEFAULT_CONFIG, ...Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined)) };
}

/** Runs every guardrail over a stack's resources; findings in a stable order. */
export function evaluateStack(resources: GuardedResource[], config: Partial<GuardrailConfig> = {}): Finding[] {
  const cfg = withDefaults(config);
  const findings: Finding[] = [];
  for (const guard of GUARDRAILS) {
    for (const r of resources.filter((x) => guard.types.includes(x.type))) {
      for (const message of guard.check(r, resources, cfg)) findings.push({ policy: guard.name, enforcement: guard.enforcement, resource: r.urn ?? r.name, message });
    }
  }
  return findings;
}
