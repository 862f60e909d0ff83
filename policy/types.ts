/**
 * The pack's vocabulary: its name, the type tokens it judges, how a resource
 * reaches a rule, the settings, and what a rule and a finding are.
 */
import { RUNTIME_GPU_FACTS } from "../components/gpu";

/** The pack's name, as `pulumi preview` reports it. */
export const PACK_NAME = "dcs-guardrails";

export const PACK_DESCRIPTION =
  "Guardrails for Databricks clusters, job clusters and instance pools on custom containers: private registry without admin user, images pinned by digest from the stack's own registry, dedicated access mode, supported runtimes, GPU nodes with GPU images on standard runtimes within their driver, idle shutdown, protected prod registries.";

/**
 * Type tokens of what dcs-platform declares. No rule looks at WorkspaceConf: what matters there,
 * `retainOnDelete`, is not among the resource options CrossGuard hands a policy.
 */
export const REGISTRY = "azure-native:containerregistry:Registry";
export const IMAGE = "docker:index/image:Image";
export const CLUSTER = "databricks:index/cluster:Cluster";
/** A job: its job clusters (`newCluster` of the job, of each `jobClusters` entry, of each task) are judged like clusters. */
export const JOB = "databricks:index/job:Job";
/** An instance pool: its preloaded images and runtimes are judged like a cluster's. */
export const INSTANCE_POOL = "databricks:index/instancePool:InstancePool";
export const WORKSPACE_CONF = "databricks:index/workspaceConf:WorkspaceConf";

export type Props = Record<string, unknown>;

/** A resource as the rules see it: recorded by a renderer, or handed over by CrossGuard. */
export interface StackResource {
  /** Type token, e.g. `databricks:index/cluster:Cluster`. */
  type: string;
  /** Logical name. */
  name: string;
  /** URN, when the recorder has one; its stack part is the stack name. */
  urn?: string;
  /** Input properties. */
  props: Props;
  /** Resource options; absent when the recorder did not capture them (then `protect` is not known). */
  opts?: { protect?: boolean };
  /** The `protect` option given flat, as some recorders do; `opts.protect` wins. */
  protect?: boolean;
}

/** Settings of the pack (`--policy-pack-config`, per policy), with `DEFAULT_CONFIG` for what is not set. */
export interface GuardrailConfig {
  /** Longest auto-termination, in minutes, a cluster may have without the `longRunning: "true"` tag. */
  maxAutoterminationMinutes: number;
  /** Custom tags every cluster should carry for cost reports. */
  costTags: string[];
  /** Environments (registry `environment` tag, or stack name) whose registries must be protected from deletion. */
  protectedEnvironments: string[];
  /**
   * The NVIDIA driver of each Databricks runtime's GPU nodes, by runtime major.minor (`"16.4"`):
   * what the CUDA of a GPU image is checked against.
   */
  gpuDrivers: Record<string, string>;
}

export const DEFAULT_CONFIG: GuardrailConfig = {
  maxAutoterminationMinutes: 120,
  costTags: ["team", "costCenter", "environment"],
  protectedEnvironments: ["prod"],
  // The figures of components/gpu.ts (their sources are there).
  gpuDrivers: Object.fromEntries(Object.entries(RUNTIME_GPU_FACTS).map(([runtime, facts]) => [runtime, facts.driver])),
};

/**
 * What an `undefined` property means.
 * - "unknown": the resources were recorded by a helper that writes `undefined` for a value not
 *   known yet (an Output a preview cannot resolve), so an undefined property may be either
 *   and never violates. The default of `evaluateStack`.
 * - "absent": CrossGuard, where unknowns arrive as sentinels and `undefined` is a property the
 *   program did not set, which may violate (no access mode, no build platform, no cost tags).
 *   Also right for a recorder that marks unknowns with placeholders.
 */
export type UndefinedMeans = "unknown" | "absent";

/** What a rule gets besides the resource's type and props. */
export interface RuleContext {
  /** The resource's logical name (used in messages). */
  name: string;
  /** The resource's URN, when known. */
  urn?: string;
  /** Resource options; `undefined` when they were not recorded. */
  opts?: { protect?: boolean };
  config: GuardrailConfig;
  /** Every resource of the stack (read by stack rules only). */
  stack: StackResource[];
  undefinedMeans: UndefinedMeans;
}

/** A rule: the violation messages of one resource (empty: compliant or not applicable). */
export type Rule = (type: string, props: Props, context: RuleContext) => string[];

export type Enforcement = "mandatory" | "advisory";

export interface Guardrail {
  /** Policy name, unique in the pack; the key of its `--policy-pack-config` entry. */
  name: string;
  description: string;
  enforcement: Enforcement;
  /** "resource": needs the resource only; "stack": compares it with other resources of the stack. */
  scope: "resource" | "stack";
  /**
   * The type tokens the rule judges (documentation and tests; the rule checks the type itself,
   * and CrossGuard hands every policy every resource).
   */
  appliesTo: readonly string[];
  /** Config keys the rule reads; each becomes part of the policy's config schema. */
  configKeys: (keyof GuardrailConfig)[];
  /** How to fix a violation. */
  remediation: string;
  rule: Rule;
}

/** One violation found by `evaluateStack`. */
export interface Finding {
  policy: string;
  enforcement: Enforcement;
  /** Logical name of the violating resource. */
  resource: string;
  /** Its type token. */
  type: string;
  message: string;
}

