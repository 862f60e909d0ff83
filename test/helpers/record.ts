/**
 * Shared test helpers: render the real program or record a single component
 * under the recording engine, with known fake secrets, and query the result.
 */
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { vi } from "vitest";
import { imagesNeedingOwnSecret, NAMESPACE, secretKeysNeeded } from "../../stacks/config";
import { readStackFile, recordProgram, renderStack, type CloudMode, type Rendering, type RenderedResource } from "../../stacks/render/engine";

export const ROOT = path.resolve(__dirname, "..", "..");

/** Fake secret values: tests assert none of them ever appears in any output. */
export const FAKE_SECRETS: Record<string, string> = {
  [`${NAMESPACE}:pullClientSecret`]: "pull-SECRET-4b1f9d0e-never-print",
  [`${NAMESPACE}:pushClientSecret`]: "push-SECRET-77aa01c3-never-print",
  // Each image's own pull secret (a map by image name) is this value.
  [`${NAMESPACE}:imagePullSecrets`]: "image-SECRET-5e0c9a72-never-print",
};

/** A committed stack file's config values (full keys), decoded. */
export function stackConfigOf(stack: string): Record<string, unknown> {
  return readStackFile(path.join(ROOT, `Pulumi.${stack}.yaml`)).values;
}

/** Renders a stack file through the real entry, with fake secrets for what it needs. */
export async function renderForTest(
  stack: string,
  configOverrides: Record<string, unknown> = {},
  cloud: CloudMode = "simulated",
  stackReferences?: Record<string, Record<string, unknown>>,
): Promise<Rendering> {
  const { values } = readStackFile(path.join(ROOT, `Pulumi.${stack}.yaml`));
  const needed = secretKeysNeeded({ ...values, ...configOverrides }).map((k) => `${NAMESPACE}:${k}`);
  const all = { ...values, ...configOverrides };
  const fake = (k: string) => (k === `${NAMESPACE}:imagePullSecrets` ? JSON.stringify(Object.fromEntries(imagesNeedingOwnSecret(all).map((n) => [n, FAKE_SECRETS[k]]))) : FAKE_SECRETS[k]);
  const secrets = Object.fromEntries(needed.map((k) => [k, fake(k)]));
  vi.resetModules();
  return renderStack({ stack, configOverrides, secrets, cloud, stackReferences, load: async () => (await import("../../stacks/index")) as Record<string, unknown> });
}

/** Records whatever `declare` creates (one component, typically); `deployer` is who getCurrentUser answers. */
export async function recordResources(declare: () => unknown, cloud: CloudMode = "simulated", deployer?: string): Promise<Rendering> {
  const recorded = await recordProgram({
    project: "dcs-platform",
    stack: "test",
    config: {},
    secretKeys: [],
    cloud,
    deployer,
    load: async () => {
      const exported = await declare();
      return (exported ?? {}) as Record<string, unknown>;
    },
  });
  return { ...recorded, placeholderSecrets: [], findings: [] };
}

/** Every recorded resource of a type token. */
export function ofType(r: Rendering, type: string): RenderedResource[] {
  return r.resources.filter((x) => x.type === type);
}

/** The single recorded resource of a type token; fails if there is not exactly one. */
export function one(r: Rendering, type: string): RenderedResource {
  const found = ofType(r, type);
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}: ${r.resources.map((x) => x.type).join(", ")}`);
  return found[0];
}

/** The resource of a type with a given name (e.g. cluster-dask-cluster, image-image). */
export function named(r: Rendering, type: string, name: string): RenderedResource {
  const found = ofType(r, type).filter((x) => x.name === name);
  if (found.length !== 1) throw new Error(`expected one ${type} named ${name}, found ${found.length}: ${ofType(r, type).map((x) => x.name).join(", ")}`);
  return found[0];
}

/** A stack's cluster by its short name in dcs:clusters. */
export const clusterOf = (r: Rendering, name: string) => named(r, "databricks:index/cluster:Cluster", `cluster-${name}-cluster`);

/** A stack's image by its name in dcs:images (default: dcs:image). */
export const imageOf = (r: Rendering, name = "default") => named(r, "docker:index/image:Image", name === "default" ? "image-image" : `image-${name}-image`);

/** Value at a dotted path of a resource's inputs. */
export function input(res: RenderedResource, dotted: string): unknown {
  return dotted.split(".").reduce<unknown>((v, k) => (v !== null && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined), res.inputs);
}

/** A provider's URN from the `urn::id` reference a resource holds. */
export function providerUrn(res: RenderedResource): string | undefined {
  return res.provider?.split("::").slice(0, -1).join("::");
}

/** A custom resource of a test-only type, to depend on or be depended on. */
export class TestResource extends pulumi.CustomResource {
  constructor(type: string, name: string, opts?: pulumi.CustomResourceOptions) {
    super(type, name, {}, opts);
  }
}
