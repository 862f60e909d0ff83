/**
 * What the cluster rules judge inside a resource, so each rule is written once:
 *
 * - cluster specs: a `databricks.Cluster`'s own props, and every `newCluster` of a
 *   `databricks.Job` (the job's own, each `jobClusters` entry's, each task's, each for-each
 *   task's), each with a label naming the resource and the cluster inside it
 *   (`cluster cluster-dask`, `job job-nightly, task smoke`, `job job-nightly, job cluster main`);
 * - container images: the `dockerImage` of each cluster spec, and each `preloadedDockerImages`
 *   entry of a `databricks.InstancePool` (`pool pool-d4`);
 * - preloaded runtimes: the `preloadedSparkVersions` of a pool that preloads an image.
 *
 * Reading follows reading.ts: a list, an entry or a block that is not known yet yields nothing,
 * so what is not known never violates.
 */
import { isRecord, isUnknown, read, readTagIn, unwrapSecret, UNKNOWN } from "./reading";
import { CLUSTER, INSTANCE_POOL, JOB, type Props, type RuleContext } from "./types";

/** What the helpers need of a rule's context. */
type Where = Pick<RuleContext, "name" | "undefinedMeans">;

/** A cluster, or a job cluster inside a job. */
export interface ClusterSpec {
  /** Names the resource and the cluster inside it, as a finding starts. */
  label: string;
  /** A job cluster lives as long as its run: it has no auto-termination. */
  kind: "cluster" | "job cluster";
  /** The spec: a cluster's props, or a job's `newCluster` block. */
  props: Props;
  /** A job cluster's job, whose `tags` Databricks propagates to its job clusters. */
  job?: Props;
}

/** A container image a cluster runs or a pool preloads. */
export interface ContainerImage {
  label: string;
  /** How messages say it: a cluster "runs" an image, a pool "preloads" it. */
  verb: "runs" | "preloads";
  /** Where the image block sits in the spec, for messages: `dockerImage`, `preloadedDockerImages[0]`. */
  path: string;
  /** The block: `{ url, basicAuth: { username, password } }`. */
  image: Props;
}

/** A runtime a cluster runs or a pool preloads, in a spec or pool that runs a container. */
export interface ContainerRuntime {
  label: string;
  verb: "runs" | "preloads";
  /** The runtime key, known. */
  sparkVersion: string;
}

/** The known entries of a list property, with their indexes; none while the list is not known. */
function entries(props: Props, key: string, { undefinedMeans }: Where): { index: number; value: unknown }[] {
  const list = read(props, key, undefinedMeans);
  if (!Array.isArray(list)) return [];
  return list.map((raw, index) => ({ index, value: unwrapSecret(raw) })).filter(({ value }) => !isUnknown(value, undefinedMeans));
}

/** The known record entries of a list property. */
function recordEntries(props: Props, key: string, where: Where): { index: number; value: Props }[] {
  return entries(props, key, where).filter((e): e is { index: number; value: Props } => isRecord(e.value));
}

/** An entry's key (`taskKey`, `jobClusterKey`), or its position when the key is not known. */
function keyOf(entry: Props, field: string, index: number): string {
  const key = read(entry, field, "absent");
  return typeof key === "string" && key !== "" ? key : `#${index + 1}`;
}

/** The cluster specs a resource carries: a cluster's own props, a job's job clusters; none for other types. */
export function clusterSpecs(type: string, props: Props, where: Where): ClusterSpec[] {
  if (type === CLUSTER) return [{ label: `cluster ${where.name}`, kind: "cluster", props }];
  if (type !== JOB) return [];
  const job = `job ${where.name}`;
  const specs: ClusterSpec[] = [];
  const add = (label: string, holder: Props) => {
    const spec = read(holder, "newCluster", where.undefinedMeans);
    if (isRecord(spec)) specs.push({ label, kind: "job cluster", props: spec, job: props });
  };
  add(`${job} (its newCluster)`, props);
  for (const { index, value } of recordEntries(props, "jobClusters", where)) add(`${job}, job cluster ${keyOf(value, "jobClusterKey", index)}`, value);
  for (const { index, value } of recordEntries(props, "tasks", where)) {
    const task = `${job}, task ${keyOf(value, "taskKey", index)}`;
    add(task, value);
    const inner = read(value, "forEachTask.task", where.undefinedMeans);
    if (isRecord(inner)) add(`${task}, for-each task ${keyOf(inner, "taskKey", 0)}`, inner);
  }
  return specs;
}

/** The cluster specs that run a custom container (a known `dockerImage` block). */
export function containerSpecs(type: string, props: Props, where: Where): ClusterSpec[] {
  return clusterSpecs(type, props, where).filter((spec) => isRecord(read(spec.props, "dockerImage", where.undefinedMeans)));
}

/** The container images of a resource: each container spec's `dockerImage`, each image a pool preloads. */
export function containerImages(type: string, props: Props, where: Where): ContainerImage[] {
  if (type === INSTANCE_POOL) {
    return recordEntries(props, "preloadedDockerImages", where).map(({ index, value }) => ({
      label: `pool ${where.name}`,
      verb: "preloads" as const,
      path: `preloadedDockerImages[${index}]`,
      image: value,
    }));
  }
  return containerSpecs(type, props, where).map((spec) => ({
    label: spec.label,
    verb: "runs" as const,
    path: "dockerImage",
    image: read(spec.props, "dockerImage", where.undefinedMeans) as Props,
  }));
}

/**
 * The known runtimes of what runs a custom container: each container spec's `sparkVersion`,
 * and each `preloadedSparkVersions` entry of a pool that preloads an image.
 */
export function containerRuntimes(type: string, props: Props, where: Where): ContainerRuntime[] {
  if (type === INSTANCE_POOL) {
    if (containerImages(type, props, where).length === 0) return [];
    return entries(props, "preloadedSparkVersions", where)
      .filter((e): e is { index: number; value: string } => typeof e.value === "string")
      .map(({ value }) => ({ label: `pool ${where.name}`, verb: "preloads" as const, sparkVersion: value }));
  }
  return containerSpecs(type, props, where).flatMap((spec) => {
    const version = read(spec.props, "sparkVersion", where.undefinedMeans);
    return typeof version === "string" ? [{ label: spec.label, verb: "runs" as const, sparkVersion: version }] : [];
  });
}

/**
 * Whether a cluster spec draws from an instance pool: `instancePoolId` set, known or not yet.
 * Read as absent when not there (a recorded preview's `undefined` counts as no pool): the
 * renderer marks a pool id not known yet with a placeholder, and CrossGuard with a sentinel.
 */
export function drawsFromPool(spec: ClusterSpec): boolean {
  const id = read(spec.props, "instancePoolId", "absent");
  return id === UNKNOWN || (typeof id === "string" && id !== "");
}

/**
 * A cost tag of a cluster spec: its `customTags`, or for a job cluster its job's `tags` too
 * (Databricks propagates a job's tags to the job clusters of its runs). A non-empty value from
 * either wins; else `UNKNOWN` when either is not known yet; else what the spec has (absent or
 * empty).
 */
export function specTag(spec: ClusterSpec, tag: string, where: Where): unknown {
  const own = readTagIn(spec.props, "customTags", tag, where.undefinedMeans);
  if (spec.job === undefined) return own;
  const inherited = readTagIn(spec.job, "tags", tag, where.undefinedMeans);
  const present = [own, inherited].find((v) => typeof v === "string" && v.trim() !== "");
  if (present !== undefined) return present;
  return own === UNKNOWN || inherited === UNKNOWN ? UNKNOWN : own;
}
