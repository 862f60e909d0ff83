/**
 * Rules for Databricks clusters on a custom container. Each rule judges every
 * cluster spec of a resource (a cluster, each job cluster of a job) and, for
 * the image and runtime rules, each image and runtime a pool preloads
 * (`../specs.ts`); a message starts with the spec's label, which names the
 * resource and the cluster inside it.
 */
import { isDigestReference, unsupportedRuntimeReason } from "../../components/naming";
import { hostOf, isRecord, isUnknownMarker, read, readTag, registryHosts, UNKNOWN } from "../reading";
import { clusterSpecs, containerImages, containerRuntimes, containerSpecs, specTag } from "../specs";
import { INSTANCE_POOL, IMAGE, REGISTRY, type Props, type Rule, type StackResource } from "../types";

/** The provider's auto-termination when `autoterminationMinutes` is not set (databricks.Cluster docs). */
export const PROVIDER_DEFAULT_AUTOTERMINATION = 60;

/** Access modes custom containers run in: dedicated (single user), under either name. */
export const DEDICATED_ACCESS_MODES = ["SINGLE_USER", "DATA_SECURITY_MODE_DEDICATED"];

/** The images a stack builds and pushes, by their tagged names; `complete` is false while one is not known yet. */
export function builtImageNames(stack: StackResource[]): { names: string[]; complete: boolean } {
  const names: string[] = [];
  let complete = true;
  for (const r of stack.filter((x) => x.type === IMAGE)) {
    const n = read(r.props, "imageName", "absent");
    if (typeof n === "string") names.push(n.toLowerCase());
    else complete = false;
  }
  return { names, complete };
}

/**
 * An image is pinned: by digest, or by the content tag of an image this stack
 * builds (dcs:clusters.<name>.imageReference: tag). Never `latest`, never a tag nobody
 * in the stack controls. Judges clusters, job clusters and pools' preloaded images.
 */
export const clusterImagePinned: Rule = (type, props, context) =>
  containerImages(type, props, context).flatMap(({ label, verb, image }) => {
    const url = read(image, "url", context.undefinedMeans);
    if (url === UNKNOWN) return [];
    if (typeof url === "string" && isDigestReference(url)) return [];
    if (typeof url === "string" && /:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(url.split("/").slice(1).join("/"))) {
      const tag = url.slice(url.lastIndexOf(":") + 1);
      if (tag === "latest") {
        return [`${label} ${verb} image ${url}: latest moves with every push; reference the digest or the content tag of the image this stack builds.`];
      }
      const built = builtImageNames(context.stack);
      if (built.names.includes(url.toLowerCase()) || !built.complete) return [];
      return [
        `${label} ${verb} image ${url}, a tag no image of this stack pushes; reference the digest (<registry>/<repository>@sha256:<64 hex>) or the content tag of the image this stack builds.`,
      ];
    }
    return [
      `${label} ${verb} image ${JSON.stringify(url ?? null)}, which is not pinned; reference <registry>/<repository>@sha256:<64 hex> (the pushed image's repoDigest) or the content tag of the image this stack builds.`,
    ];
  });

/** True for a Databricks secret reference `{{secrets/<scope>/<key>}}`. */
export function isSecretReferenceValue(value: unknown): boolean {
  return typeof value === "string" && /^\{\{secrets\/[^/{}]+\/[^/{}]+\}\}$/.test(value);
}

/**
 * The registry password is a secret reference, never the secret: Databricks
 * shows basic-auth values of a cluster (and of a pool's preloaded image) to
 * other users through the UI and the API (provider docs, cluster
 * docker_image.basic_auth, instance pool preloaded_docker_image.basic_auth).
 */
export const clusterPullSecretByReference: Rule = (type, props, context) =>
  containerImages(type, props, context).flatMap(({ label, path, image }) => {
    const password = read(image, "basicAuth.password", context.undefinedMeans);
    if (password === UNKNOWN || password === undefined || password === "" || isSecretReferenceValue(password)) return [];
    return [
      `${label} carries its registry password in ${path}.basicAuth.password, where other users of the workspace can read it; keep the secret in a Databricks secret scope and set the password to its {{secrets/<scope>/<key>}} reference (dcs-platform declares the scope for you).`,
    ];
  });

export const clusterImageFromStackRegistry: Rule = (type, props, context) =>
  containerImages(type, props, context).flatMap(({ label, verb, image }) => {
    const url = read(image, "url", context.undefinedMeans);
    if (typeof url !== "string") return []; // not known yet, or missing (cluster-image-pinned reports that)
    const host = hostOf(url);
    const { hosts, complete } = registryHosts(context.stack);
    if (hosts.includes(host) || !complete) return [];
    const what = verb === "runs" ? "pulls its image" : "preloads an image";
    return [`${label} ${what} from ${host}, not from a registry of this stack (${hosts.join(", ") || "none declared"}); build and push the image to the stack's own registry.`];
  });

export const clusterImageBasicAuth: Rule = (type, props, context) =>
  containerImages(type, props, context).flatMap(({ label, path, image }) => {
    const { stack, undefinedMeans } = context;
    const url = read(image, "url", undefinedMeans);
    const registries = stack.filter((r) => r.type === REGISTRY);
    // The registry the image comes from; while the url is not known, any registry of the stack.
    const serving = typeof url === "string" ? registries.filter((r) => registryHosts([r]).hosts.includes(hostOf(url))) : registries;
    const isPrivate = serving.some((r) => {
      // Not set: Azure's default, off. Only a marker is "not known yet" here.
      const anonymous = read(r.props, "anonymousPullEnabled", "absent");
      return anonymous !== true && anonymous !== UNKNOWN;
    });
    if (!isPrivate) return []; // public, not known, or not a registry of this stack (cluster-image-from-stack-registry)
    const auth = read(image, "basicAuth", undefinedMeans);
    if (auth === UNKNOWN) return [];
    const missing = ["username", "password"].filter((field) => {
      if (!isRecord(auth)) return true;
      const value = read(auth, field, undefinedMeans);
      return value !== UNKNOWN && (typeof value !== "string" || value === "");
    });
    if (missing.length === 0) return [];
    return [
      `${label} pulls from a private registry without basic auth (${missing.join(" and ")} missing); set ${path}.basicAuth to the pull identity's client id and secret (a {{secrets/<scope>/<key>}} reference is best).`,
    ];
  });

export const clusterDedicatedAccessMode: Rule = (type, props, context) =>
  containerSpecs(type, props, context).flatMap(({ label, props: spec }) => {
    const mode = read(spec, "dataSecurityMode", context.undefinedMeans);
    if (mode === UNKNOWN || (typeof mode === "string" && DEDICATED_ACCESS_MODES.includes(mode))) return [];
    const given = mode === undefined ? "sets no dataSecurityMode (Databricks then chooses the access mode)" : `uses access mode ${String(mode)}`;
    return [`${label} ${given}; custom containers need dedicated access mode: dataSecurityMode: SINGLE_USER with singleUserName.`];
  });

export const clusterRuntimeSupportsContainers: Rule = (type, props, context) =>
  containerRuntimes(type, props, context).flatMap(({ label, verb, sparkVersion }) => {
    const reason = unsupportedRuntimeReason(sparkVersion);
    return reason ? [`${label} ${verb} ${sparkVersion}: ${reason}; choose a standard runtime such as 16.4.x-scala2.12.`] : [];
  });

/** Interactive clusters only: a job cluster ends with its run and has no autoterminationMinutes. */
export const clusterAutoTermination: Rule = (type, props, context) =>
  clusterSpecs(type, props, context)
    .filter((spec) => spec.kind === "cluster")
    .flatMap(({ label, props: spec }) => {
      const { config, undefinedMeans } = context;
      const given = read(spec, "autoterminationMinutes", undefinedMeans);
      if (given === UNKNOWN) return [];
      const minutes = given === undefined ? PROVIDER_DEFAULT_AUTOTERMINATION : Number(given);
      if (!Number.isFinite(minutes) || minutes <= 0) {
        return [`${label} never auto-terminates (autoterminationMinutes: ${JSON.stringify(given)}); set it to a number of idle minutes (dcs:clusters.<name>.autoterminationMinutes).`];
      }
      if (minutes <= config.maxAutoterminationMinutes) return [];
      const longRunning = readTag(type, spec, "longRunning", undefinedMeans);
      if (longRunning === "true" || longRunning === UNKNOWN) return [];
      const source = given === undefined ? " (the provider's default)" : "";
      return [
        `${label} auto-terminates after ${minutes} minutes${source}, above the ${config.maxAutoterminationMinutes}-minute cap; lower autoterminationMinutes or opt out with the custom tag longRunning: "true" (dcs:clusters.<name>.longRunning: true).`,
      ];
    });

export const initScriptsNotOnDbfs: Rule = (type, props, context) =>
  clusterSpecs(type, props, context).flatMap(({ label, props: spec }) => {
    const scripts = read(spec, "initScripts", context.undefinedMeans);
    if (!Array.isArray(scripts)) return [];
    const onDbfs = scripts.filter((s) => isRecord(s) && s.dbfs !== undefined && s.dbfs !== null);
    if (onDbfs.length === 0) return [];
    const where = onDbfs.map((s) => {
      const destination = read(s as Props, "dbfs.destination", "absent");
      return typeof destination === "string" && !isUnknownMarker(destination) ? destination : "a destination not known yet";
    });
    return [
      `${label} runs init scripts from DBFS (${where.join(", ")}), a deprecated store new workspaces refuse; move them to workspace files ({ workspace: { destination: "/Workspace/..." } }) or a Unity Catalog volume ({ volumes: { destination: "/Volumes/<catalog>/<schema>/<volume>/..." } }), in dcs-platform with dcs:initScripts.store: workspace or volumes.`,
    ];
  });

/**
 * Cost tags on every cluster and every job cluster (its own customTags or its job's tags, which
 * Databricks propagates to job clusters), pooled or not. Databricks documents that a cluster drawn
 * from a pool inherits the pool's custom tags and may not repeat one of their keys, and that the
 * VMs of a pooled cluster carry the pool's tags; the platform's cluster policy, however, fixes or
 * requires the cost tags on the cluster itself. dcs-platform keeps them on the clusters (the
 * policy binds there, and no key is repeated: its pools carry only a `dcsPool` tag), so pools are
 * not judged here; their VMs are attributed by that tag and Databricks' pool tags.
 */
export const clusterCostTags: Rule = (type, props, context) => {
  const { config } = context;
  if (type === INSTANCE_POOL) return [];
  const specs = clusterSpecs(type, props, context).map((spec) => ({
      label: spec.label,
      tag: (t: string) => specTag(spec, t, context),
      where: spec.job ? "customTags or the job's tags" : "customTags",
      why: "cost reports group clusters by them",
    }));
  return specs.flatMap(({ label, tag, where, why }) => {
    const missing = config.costTags.filter((t) => {
      const value = tag(t);
      return value !== UNKNOWN && (typeof value !== "string" || value.trim() === "");
    });
    if (missing.length === 0) return [];
    return [`${label} lacks the cost tags ${missing.join(", ")} in ${where}; ${why} (dcs:team, dcs:costCenter, dcs:environment).`];
  });
};

/** The type token of a StackReference, which a team stack reads its platform stack through. */
export const STACK_REFERENCE = "pulumi:pulumi:StackReference";

/**
 * A team stack that names a platform stack creates its clusters and job
 * clusters under the platform's cluster policy: the policy is what binds
 * clusters beyond this program (UI, API), and a cluster outside it escapes the
 * platform's rules.
 */
export const clusterUsesPlatformPolicy: Rule = (type, props, context) => {
  const specs = containerSpecs(type, props, context);
  const platform = context.stack.find((r) => r.type === STACK_REFERENCE);
  if (!platform || specs.length === 0) return [];
  const ref = read(platform.props, "name", "absent");
  return specs.flatMap(({ label, props: spec }) => {
    // Read as absent when not there: a team stack's program always sets it (a placeholder or the
    // engine's unknown while the platform's output is not known), so a missing one is missing.
    const policyId = read(spec, "policyId", "absent");
    if (policyId === UNKNOWN || (typeof policyId === "string" && policyId.trim() !== "")) return [];
    return [
      `${label} belongs to a team stack that reads platform stack ${typeof ref === "string" ? ref : platform.name}, but carries no policyId; create it under the team's cluster policy from the platform stack's teams output.`,
    ];
  });
};
