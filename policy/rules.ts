/**
 * dcs-guardrails: every rule of the CrossGuard pack, as plain functions, and their evaluation over a stack.
 *
 * A rule is `(type, props, context) => messages`: it looks at one resource
 * (its type token and input properties), may look at the rest of the stack
 * through the context, and returns one message per violation (none: the
 * resource complies, or the rule does not apply to its type). Nothing here
 * imports @pulumi/policy at run time, so tests and the offline renderer call
 * the rules directly; `crossguard.ts` hands the same functions to the
 * PolicyPack that `index.ts` starts.
 *
 * Values not known yet never violate. They are the engine's unknown
 * sentinels (CrossGuard during a preview), the offline renderer's
 * "(computed: ...)" placeholders, and, for a recorded preview, `undefined`
 * (see `UndefinedMeans`).
 */
import { GUARDRAILS } from "./guardrails";
import { DEFAULT_CONFIG, type Finding, type GuardrailConfig, type RuleContext, type StackResource, type UndefinedMeans } from "./types";

export * from "./types";
export * from "./reading";
export * from "./specs";
export * from "./rules/registry";
export * from "./rules/cluster";
export * from "./rules/image";
export * from "./rules/gpu";
export { GUARDRAILS } from "./guardrails";

/** The pack's settings with defaults for what is not given. */
export function withDefaults(config: Partial<GuardrailConfig> = {}): GuardrailConfig {
  return {
    maxAutoterminationMinutes: config.maxAutoterminationMinutes ?? DEFAULT_CONFIG.maxAutoterminationMinutes,
    costTags: config.costTags ?? DEFAULT_CONFIG.costTags,
    protectedEnvironments: config.protectedEnvironments ?? DEFAULT_CONFIG.protectedEnvironments,
    gpuDrivers: config.gpuDrivers ?? DEFAULT_CONFIG.gpuDrivers,
  };
}

/** Options of `evaluateStack`. */
export interface EvaluateOptions {
  /** What `undefined` means in the recorded props; default "unknown". */
  undefinedMeans?: UndefinedMeans;
}

/** The options of a resource as the rules see them (`opts.protect` wins over a flat `protect`). */
export function optionsOf(r: StackResource): { protect?: boolean } | undefined {
  if (r.opts !== undefined) return { protect: r.opts.protect ?? r.protect };
  return r.protect === undefined ? undefined : { protect: r.protect };
}

/** The context a rule gets for one resource of a stack. */
export function contextFor(r: StackResource, stack: StackResource[], config: GuardrailConfig, undefinedMeans: UndefinedMeans): RuleContext {
  return { name: r.name, urn: r.urn, opts: optionsOf(r), config, stack, undefinedMeans };
}

/**
 * Runs every guardrail, resource and stack ones alike, over a stack's resources, as CrossGuard
 * would; findings in the pack's order, then the resources' order.
 */
export function evaluateStack(resources: StackResource[], config: Partial<GuardrailConfig> = {}, options: EvaluateOptions = {}): Finding[] {
  const cfg = withDefaults(config);
  const undefinedMeans = options.undefinedMeans ?? "unknown";
  const findings: Finding[] = [];
  for (const guard of GUARDRAILS) {
    for (const r of resources) {
      for (const message of guard.rule(r.type, r.props, contextFor(r, resources, cfg, undefinedMeans))) {
        findings.push({ policy: guard.name, enforcement: guard.enforcement, resource: r.name, type: r.type, message });
      }
    }
  }
  return findings;
}

