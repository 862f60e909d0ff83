/**
 * The dcs-guardrails CrossGuard pack: `pulumi preview --policy-pack policy`.
 * Only wiring lives here (constructing a PolicyPack starts the analyzer
 * server, so tests import ./rules instead); every check is in rules.ts.
 */
import { PolicyPack, type PolicyConfigSchema, type PolicyResource, type ResourceValidationPolicy, type StackValidationPolicy } from "@pulumi/policy";
import { DEFAULT_CONFIG, GUARDRAILS, withDefaults, type GuardedResource, type Guardrail, type GuardrailConfig } from "./rules";

const SCHEMAS: Record<keyof GuardrailConfig, PolicyConfigSchema["properties"][string]> = {
  maxAutoterminationMinutes: { type: "integer", minimum: 10, default: DEFAULT_CONFIG.maxAutoterminationMinutes },
  costTags: { type: "array", items: { type: "string" }, default: DEFAULT_CONFIG.costTags },
  protectedEnvironments: { type: "array", items: { type: "string" }, default: DEFAULT_CONFIG.protectedEnvironments },
};

function configSchema(guard: Guardrail): PolicyConfigSchema | undefined {
  if (!guard.configKeys?.length) return undefined;
  return { properties: Object.fromEntries(guard.configKeys.map((k) => [k, SCHEMAS[k]])) };
}

function guarded(r: { type: string; name: string; urn: string; props: Record<string, unknown>; opts: { protect: boolean } }): GuardedResource {
  return { type: r.type, name: r.name, urn: r.urn, props: r.props, protect: r.opts.protect };
}

function toPolicy(guard: Guardrail): ResourceValidationPolicy | StackValidationPolicy {
  const base = { name: guard.name, description: guard.description, enforcementLevel: guard.enforcement, configSchema: configSchema(guard) };
  if (guard.scope === "resource") {
    return {
      ...base,
      validateResource: (args, report) => {
        if (!guard.types.includes(args.type)) return;
        const r = guarded(args);
        for (const message of guard.check(r, [r], withDefaults(args.getConfig<Partial<GuardrailConfig>>()))) report(message);
      },
    };
  }
  return {
    ...base,
    validateStack: (args, report) => {
      const stack = args.resources.map((r: PolicyResource) => guarded(r));
      const config = withDefaults(args.getConfig<Partial<GuardrailConfig>>());
      for (const r of stack.filter((x) => guard.types.includes(x.type))) {
        for (const message of guard.check(r, stack, config)) report(message, r.urn);
      }
    },
  };
}

new PolicyPack("dcs-guardrails", {
  description: "Guardrails for Databricks clusters on custom containers: private registry, digest-pinned images, dedicated access mode, supported runtimes, idle shutdown, protected prod registries.",
  policies: GUARDRAILS.map(toPolicy),
});
