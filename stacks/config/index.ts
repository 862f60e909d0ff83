/**
 * The stack configuration: one typed schema for every `dcs:*` key of a
 * `Pulumi.<stack>.yaml`, validated as a whole before any resource exists.
 *
 * `parseStackConfig` is pure (raw key/value pairs in, typed config or a
 * `ConfigError` listing every problem out) so tests and the offline renderer
 * use exactly the code `pulumi up` uses. `loadStackConfig` is the only place in
 * the program that reads Pulumi's runtime configuration.
 */
import * as pulumi from "@pulumi/pulumi";
import * as runtimeConfig from "@pulumi/pulumi/runtime/config";
import { z } from "zod";
import { PLATFORM_KEYS, type ParsedStackConfig, type StackConfig } from "./types";
import { configWarnings, crossFieldProblems, DEFAULT_DASK_WORKERS, platformProblems, NAMESPACE, SECRET_KEYS, type ConfigProblem, type ParseContext } from "./rules";
import { DEFAULT_IMAGE, platformPolicySchema, stackConfigSchema, type Parsed } from "./schema";
import { gpuFigures } from "../../components/gpu";
import type { ImageSpec } from "./types";

export { NAMESPACE, SECRET_KEYS, type ConfigProblem, type ParseContext } from "./rules";
export { runtimeOfImageTag, runtimeOfSparkVersion } from "./rules";
export { stackConfigSchema } from "./schema";
export * from "./types";

/** Thrown when a stack's configuration is invalid; lists every problem. */
export class ConfigError extends Error {
  constructor(
    public readonly stackFile: string,
    public readonly problems: ConfigProblem[],
  ) {
    super(
      `${stackFile}: ${problems.length} configuration problem${problems.length === 1 ? "" : "s"}; nothing was created or changed:\n` +
        problems.map((p) => `  - ${p.key}: ${p.message}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

function keyOf(path: ReadonlyArray<PropertyKey>): string {
  const [top, ...rest] = path.map(String);
  return `${NAMESPACE}:${top ?? ""}${rest.map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`)).join("")}`;
}

function unknownKeyHint(key: string): string {
  if (/secret|password|token/i.test(key)) {
    return "is not a configuration key; secrets go only in dcs:pullClientSecret, dcs:pushClientSecret or dcs:imagePullSecrets.<image>, set with `pulumi config set --secret`";
  }
  return "is not a configuration key (see the README's configuration reference)";
}

/** Decodes a raw config value: Pulumi hands objects, numbers and booleans over as JSON text. */
export function decodeConfigValue(value: string): unknown {
  const trimmed = value.trim();
  if (/^[[{]/.test(trimmed) || trimmed === "true" || trimmed === "false") {
    try {
      return JSON.parse(trimmed);
    } catch {
      return value;
    }
  }
  return value;
}

function problemsOfIssues(issues: readonly z.core.$ZodIssue[], prefix: PropertyKey[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const issue of issues) {
    const at = [...prefix, ...issue.path];
    if (issue.code === "unrecognized_keys") {
      for (const k of issue.keys) {
        const key = keyOf([...at, k]);
        problems.push({ key, message: unknownKeyHint(key) });
      }
    } else if (issue.code === "invalid_key") {
      // A map key that fails its own rule (a reserved tag, say): the inner issues say why.
      for (const inner of issue.issues) problems.push({ key: keyOf(at), message: inner.message });
    } else if (issue.code === "invalid_type" && issue.input === undefined) {
      problems.push({ key: keyOf(at), message: "is required" });
    } else {
      problems.push({ key: keyOf(at), message: issue.message });
    }
  }
  return problems;
}

/**
 * Validates raw `dcs:*` values (key without namespace -> decoded value).
 * Throws ConfigError with every problem at once.
 */
export function parseStackConfig(raw: Record<string, unknown>, ctx: ParseContext): ParsedStackConfig {
  const stackFile = `Pulumi.${ctx.stack}.yaml`;
  const shape = stackConfigSchema.shape;
  const platform = isPlatformStack(raw);
  const problems: ConfigProblem[] = [];
  const parsed: Record<string, unknown> = {};
  // Key by key, so one bad key does not hide the rules about the others.
  for (const key of Object.keys(raw)) {
    if (!(key in shape)) problems.push({ key: keyOf([key]), message: unknownKeyHint(keyOf([key])) });
    else if (platform && !(PLATFORM_KEYS as readonly string[]).includes(key)) {
      problems.push({ key: keyOf([key]), message: "is not used by a platform stack (dcs:kind: platform), which declares the switch and the teams' cluster policies; set it in a team stack" });
    } else if (!platform && ["teams", "policy"].includes(key)) {
      problems.push({ key: keyOf([key]), message: "belongs to a platform stack (dcs:kind: platform); a team stack names its platform stack with dcs:platform.stack" });
    }
  }
  const keys = platform ? PLATFORM_KEYS : Object.keys(shape).filter((k) => !["teams", "policy"].includes(k));
  for (const key of keys) {
    const result = (shape[key as keyof typeof shape] as z.ZodType).safeParse(raw[key]);
    if (result.success) parsed[key] = result.data;
    else problems.push(...problemsOfIssues(result.error.issues, [key]));
  }
  const c = parsed as Partial<Parsed>;
  const environment = c.environment ?? (["dev", "test", "prod"].includes(ctx.stack) ? (ctx.stack as "dev" | "test" | "prod") : undefined);
  const envForRules = raw.environment === undefined || c.environment !== undefined ? environment : "invalid";
  if (platform) {
    problems.push(...crossFieldProblems({ workspace: c.workspace }, ctx, envForRules));
    problems.push(...platformProblems(c));
  } else {
    problems.push(...crossFieldProblems(c, ctx, envForRules));
  }
  if (problems.length > 0) throw new ConfigError(stackFile, problems);
  const env = environment as "dev" | "test" | "prod";
  if (platform) {
    return { kind: "platform", stack: ctx.stack, environment: env, workspace: c.workspace!, containerServices: c.containerServices!, tags: c.tags ?? {}, teams: c.teams ?? {}, policy: c.policy ?? platformPolicySchema.parse({}) };
  }
  const { kind: _kind, teams: _teams, policy: _policy, images: named, imagePullSecrets, ...full } = c as Parsed;
  const { push: _push, ...defaultImage } = full.image;
  const images: Record<string, ImageSpec> = Object.fromEntries(
    // The rules have made sure every GPU figure is known, from the stack or the runtime.
    Object.entries({ [DEFAULT_IMAGE]: defaultImage, ...named }).map(([name, spec]) => [name, { ...spec, gpu: spec.gpu ? (gpuFigures(spec.gpu, spec.runtime) as Required<ReturnType<typeof gpuFigures>>) : undefined }]),
  );
  // Defaults that depend on other keys: a fixed size for Dask, and spot workers in dev (not with a pool).
  const clusters = Object.fromEntries(
    Object.entries(full.clusters).map(([name, cl]) => [
      name,
      {
        ...cl,
        numWorkers: cl.numWorkers === undefined && cl.autoscale === undefined && !cl.singleNode ? DEFAULT_DASK_WORKERS : cl.numWorkers,
        // A single-node cluster is all driver, which never runs on spot.
        spot: cl.pool || cl.singleNode ? false : (cl.spot ?? env === "dev"),
      },
    ]),
  );
  const jobs = Object.fromEntries(Object.entries(full.jobs).map(([name, job]) => [name, { ...job, spot: job.pool ? false : (job.spot ?? env === "dev") }]));
  return { ...full, images, imagePullSecrets: imagePullSecrets ?? {}, clusters, jobs, kind: "team", stack: ctx.stack, environment: env, registryProtected: full.registry.protect ?? env === "prod", warnings: configWarnings({ ...full, images: named }) };
}

/** True when the raw values declare a platform stack. */
export function isPlatformStack(raw: Record<string, unknown>): boolean {
  return raw.kind === "platform";
}

/** Reads the `dcs:*` namespace from Pulumi's runtime configuration. */
export function readRawConfig(all: Record<string, string>): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(all)) {
    const sep = key.indexOf(":");
    if (key.slice(0, sep) !== NAMESPACE) continue;
    raw[key.slice(sep + 1).replace(/^config:/, "")] = decodeConfigValue(value);
  }
  return raw;
}

/**
 * The program's single read of configuration: validates everything, then
 * hands secrets on as Pulumi secrets. Throws a RunError (no stack trace) on
 * bad configuration.
 */
export function loadStackConfig(): StackConfig {
  const stack = pulumi.getStack();
  const all = pulumi.runtime.allConfig();
  // The SDK knows which keys the stack file holds encrypted, but does not type the check.
  const isConfigSecret = (runtimeConfig as unknown as { isConfigSecret: (key: string) => boolean }).isConfigSecret;
  const secretKeys = new Set(Object.keys(all).filter((k) => isConfigSecret(k)));
  try {
    const parsed = parseStackConfig(readRawConfig(all), { stack, secretKeys });
    if (parsed.kind === "platform") return parsed;
    for (const w of parsed.warnings) pulumi.log.warn(`${w.key}: ${w.message}`);
    return {
      ...parsed,
      pullClientSecret: parsed.pullClientSecret === undefined ? undefined : pulumi.secret(parsed.pullClientSecret),
      pushClientSecret: parsed.pushClientSecret === undefined ? undefined : pulumi.secret(parsed.pushClientSecret),
      imagePullSecrets: Object.fromEntries(Object.entries(parsed.imagePullSecrets).map(([name, value]) => [name, pulumi.secret(value)])),
    };
  } catch (e) {
    if (e instanceof ConfigError) throw new pulumi.RunError(e.message);
    throw e;
  }
}

/**
 * The images whose own pull identity's secret the stack keeps (an entry of
 * dcs:imagePullSecrets each): those with a pullIdentity and no secretReference.
 * Takes full keys with decoded values.
 */
export function imagesNeedingOwnSecret(values: Record<string, unknown>): string[] {
  const v = values[`${NAMESPACE}:images`];
  const images = (typeof v === "string" ? decodeConfigValue(v) : v) as Record<string, { pullIdentity?: { secretReference?: string } } | undefined> | undefined;
  if (images === null || typeof images !== "object") return [];
  return Object.entries(images)
    .filter(([, i]) => i?.pullIdentity !== undefined && i.pullIdentity.secretReference === undefined)
    .map(([name]) => name);
}

/**
 * The secret keys (without namespace) a stack's values call for: the pull
 * secret unless a Databricks secret reference replaces it, the push secret in
 * servicePrincipal mode. Takes full keys (dcs:image, ...) with decoded values.
 */
export function secretKeysNeeded(values: Record<string, unknown>): (typeof SECRET_KEYS)[number][] {
  const obj = (key: string) => {
    const v = values[`${NAMESPACE}:${key}`];
    const decoded = typeof v === "string" ? decodeConfigValue(v) : v;
    return (decoded !== null && typeof decoded === "object" ? decoded : {}) as Record<string, unknown>;
  };
  const needed: (typeof SECRET_KEYS)[number][] = [];
  const kind = values[`${NAMESPACE}:kind`];
  if (kind === "platform") return needed;
  if (obj("pullIdentity").secretReference === undefined) needed.push("pullClientSecret");
  const push = obj("image").push as Record<string, unknown> | undefined;
  if (push?.mode === "servicePrincipal") needed.push("pushClientSecret");
  if (imagesNeedingOwnSecret(values).length > 0) needed.push("imagePullSecrets");
  return needed;
}
