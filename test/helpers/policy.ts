/**
 * For the policy tests: what the Pulumi engine hands a policy for a value not
 * known yet (the policy SDK's own sentinel and its unknown-checking proxy), so
 * the rules are tested against exactly what CrossGuard gives them.
 */
import { createRequire } from "node:module";

/** The policy SDK's proxy module: its sentinels and its unknown-checking proxy. */
export const policyInternals = createRequire(__filename)("@pulumi/policy/proxy") as Record<string, unknown> & { unknownCheckingProxy<T>(o: T): T };

/** The string the engine sends for an unknown value. */
export const UNKNOWN_STRING = policyInternals.unknownStringValue as string;

/** Wraps props as CrossGuard does, so reading an unknown value throws as it would under the CLI. */
export function unknownCheckingProxy<T>(o: T): T {
  return policyInternals.unknownCheckingProxy(o);
}
