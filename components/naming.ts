/**
 * Pure helpers shared by the components: names, tags and content hashes.
 * Nothing here touches Pulumi or the cloud, so all of it is unit-tested directly.
 */

/** The rule an Azure Container Registry name must follow, as a sentence. */
export const REGISTRY_NAME_RULE = "must be 5 to 50 letters and digits (no dashes), unique across Azure";

/** True when `name` is a valid ACR name. */
export function isRegistryName(name: string): boolean {
  return /^[A-Za-z0-9]{5,50}$/.test(name);
}

/** Child resource name derived from the component name: `<parent>-<suffix>`. */
export function childName(parent: string, suffix: string): string {
  return `${parent}-${suffix}`;
}

/** Tags every resource of a stack carries; policies and cost reports rely on them. */
export interface StandardTags {
  environment: string;
  team: string;
  costCenter: string;
}

/** The standard tags, then the stack's extra tags (which may not override the standard ones). */
export function standardTags(base: StandardTags, extra: Record<string, string> = {}): Record<string, string> {
  return { ...extra, environment: base.environment, team: base.team, costCenter: base.costCenter, managedBy: "dcs-platform" };
}

/** The image tag for a runtime and a context hash, e.g. `16.4-lts-3f2a9c1b7d0e`. Never `latest`. */
export function imageTag(runtime: string, contextHash: string): string {
  if (!/^[0-9a-f]{12,}$/.test(contextHash)) throw new Error(`not a hex content hash: ${contextHash}`);
  const prefix = runtime.toLowerCase().replace(/[^a-z0-9.]+/g, "-").replace(/^-+|-+$/g, "");
  return `${prefix}-${contextHash.slice(0, 12)}`;
}

/** True for an immutable image reference `<host>/<repo>@sha256:<64 hex>`. */
export function isDigestReference(ref: string): boolean {
  return /^[a-z0-9.-]+(:\d+)?\/[a-z0-9._/-]+@sha256:[0-9a-f]{64}$/.test(ref);
}

/**
 * Why a Databricks runtime key cannot run custom containers, or undefined when
 * it can: ML (and GPU) and Genomics runtimes do not support them.
 */
export function unsupportedRuntimeReason(sparkVersion: string): string | undefined {
  if (/(^|-)ml(-|$)|gpu/i.test(sparkVersion)) return "ML runtimes do not support custom containers";
  if (/genomics|hls/i.test(sparkVersion)) return "Genomics runtimes do not support custom containers";
  return undefined;
}
