/**
 * The guardrails of rules.ts as CrossGuard policies: the translation from
 * what @pulumi/policy hands a validation (args, a proxy over the props, a
 * report callback) to the plain rule functions, and back. No rule logic lives
 * here. Importing this module starts nothing (only types come from
 * @pulumi/policy), so tests drive these policies with hand-made arguments.
 */
import type { PolicyConfigSchema, Policies, PolicyResource, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy } from "@pulumi/policy";
import { DEFAULT_CONFIG, GUARDRAILS, contextFor, withDefaults, type Guardrail, type GuardrailConfig, type Props, type StackResource } from "./rules";

/** JSON schema of each setting, with its default (the CLI fills defaults in and validates `--policy-pack-config`). */
const SETTING_SCHEMAS: Record<keyof GuardrailConfig, PolicyConfigSchema["properties"][string]> = {
  maxAutoterminationMinutes: {
    type: "integer",
    minimum: 10,
    maximum: 10_000,
    default: DEFAULT_CONFIG.maxAutoterminationMinutes,
    description: "Longest auto-termination, in minutes, allowed without the longRunning=true tag.",
  },
  costTags: {
    type: "array",
    items: { type: "string", minLength: 1 },
    uniqueItems: true,
    default: DEFAULT_CONFIG.costTags,
    description: "Custom tags every cluster, job cluster (or its job) and instance pool should carry.",
  },
  protectedEnvironments: {
    type: "array",
    items: { type: "string", minLength: 1 },
    uniqueItems: true,
    default: DEFAULT_CONFIG.protectedEnvironments,
    description: "Environment tags and stack names whose registries must be protected from deletion.",
  },
  gpuDrivers: {
    type: "object",
    propertyNames: { pattern: "^[0-9]+\\.[0-9]+$" },
    additionalProperties: { type: "string", pattern: "^[0-9]+(\\.[0-9]+)*$" },
    default: DEFAULT_CONFIG.gpuDrivers,
    description: 'The NVIDIA driver of each Databricks runtime\'s GPU nodes, by runtime major.minor ({ "16.4": "535.54.03" }): the driver a GPU image\'s CUDA must run on.',
  },
};

/** The config schema of a guardrail: its settings, or none. */
export function configSchemaOf(guard: Guardrail): PolicyConfigSchema | undefined {
  if (guard.configKeys.length === 0) return undefined;
  return { properties: Object.fromEntries(guard.configKeys.map((key) => [key, SETTING_SCHEMAS[key]])) };
}

/**
 * The props CrossGuard hands a policy, as plain data. They sit behind a proxy that throws when
 * a value not known yet is read, which would abort the whole policy (a stack policy then checks
 * no resource at all) and report "can't run during preview". Reading each property's descriptor
 * does not go through that trap and yields the raw values, unknowns as the engine's sentinels,
 * which the rules treat as not known yet (no violation). Were the proxy to trap descriptors too,
 * its error would surface as before: no false violation either way.
 */
export function plainProps(props: object): Props {
  const plain: Props = {};
  for (const key of Object.keys(props)) plain[key] = Object.getOwnPropertyDescriptor(props, key)?.value;
  return plain;
}

/** A resource CrossGuard hands over, as the rules see it. */
export function fromCrossGuard(r: Pick<PolicyResource, "type" | "name" | "urn" | "props" | "opts">): StackResource {
  return { type: r.type, name: r.name, urn: r.urn, props: plainProps(r.props), opts: { protect: r.opts.protect } };
}

/** The policy's settings: what `--policy-pack-config` gives (defaults already filled in by the CLI), else ours. */
function settings(args: ResourceValidationArgs | StackValidationArgs): GuardrailConfig {
  return withDefaults(args.getConfig<Partial<GuardrailConfig>>());
}

/** One guardrail as a CrossGuard policy (resource or stack validation). */
export function toPolicy(guard: Guardrail): ResourceValidationPolicy | StackValidationPolicy {
  const base = {
    name: guard.name,
    description: guard.description,
    enforcementLevel: guard.enforcement,
    remediationSteps: guard.remediation,
    configSchema: configSchemaOf(guard),
  };
  if (guard.scope === "resource") {
    return {
      ...base,
      validateResource: (args: ResourceValidationArgs, report: ReportViolation) => {
        const resource = fromCrossGuard(args);
        // In CrossGuard unknowns arrive as sentinels, so an undefined property is one not set.
        for (const message of guard.rule(args.type, resource.props, contextFor(resource, [resource], settings(args), "absent"))) report(message);
      },
    };
  }
  return {
    ...base,
    validateStack: (args: StackValidationArgs, report: ReportViolation) => {
      const stack = args.resources.map(fromCrossGuard);
      const config = settings(args);
      for (const resource of stack) {
        for (const message of guard.rule(resource.type, resource.props, contextFor(resource, stack, config, "absent"))) report(message, resource.urn);
      }
    },
  };
}

/** Every guardrail as a CrossGuard policy, in the pack's order. */
export function crossGuardPolicies(): Policies {
  return GUARDRAILS.map(toPolicy);
}
