/**
 * A team stack: what `pulumi up` declares for a team that runs clusters on
 * its own image. Read top to bottom:
 *   1. the workspace: named by the platform stack this stack reads through a
 *      StackReference (dcs:platform.stack), whose outputs are checked before
 *      anything is declared; or, for a stack on its own, by dcs:workspace,
 *      with the container-services switch when the stack manages it;
 *   2. the registry with the pull (and push) grants, the cluster image built
 *      from infra/image, and the purge of old tags;
 *   3. the pull secret in a Databricks secret scope, readable by the cluster's owner;
 *   4. the init scripts from infra/init-scripts;
 *   5. the cluster, which boots from the image and runs those scripts once the
 *      switch, the grant, the secret and the uploads are in place, under the
 *      platform's cluster policy when there is one.
 */
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as databricks from "@pulumi/databricks";
import { BUILD_CACHE_TAG, ClusterImage } from "../components/clusterImage";
import { ContainerRegistry } from "../components/containerRegistry";
import { ContainerServices } from "../components/containerServices";
import { DcsCluster } from "../components/dcsCluster";
import { defaultInitScriptFolder, InitScripts, SCRIPTS_HASH_VAR } from "../components/initScripts";
import { standardTags } from "../components/naming";
import { PullSecret, readersOf } from "../components/pullSecret";
import { RegistryRetention } from "../components/registryRetention";
import { WarmPool } from "../components/warmPool";
import { DaskJob, defaultJobFolder } from "../components/daskJob";
import { accessControlFor } from "../components/principals";
import { driverProxyUrl } from "../components/workspace";
import { ConfigError, runtimeOfImageTag, type TeamStackConfig } from "./config";
import { DEFAULT_IMAGE } from "./config/schema";
import { cudaBaseImage, gpuEnvVars, POOL_CUDA_TAG } from "../components/gpu";
import { daskEnvVars } from "./dask";
import { isUnknownMarker } from "../policy/reading";
import { PLATFORM_OUTPUTS, platformProblems, type PlatformOutputs, type PlatformTeam } from "./platformContract";
import { workspaceInfo, workspaceProvider } from "./workspace";

const projectRoot = path.resolve(__dirname, "..");
const fromRoot = (p: string) => (path.isAbsolute(p) ? p : path.join(projectRoot, p));

/** The workspace a team stack deploys into, and what the platform stack says about it. */
interface TeamWorkspace {
  provider: databricks.Provider;
  info: pulumi.Output<{ host: string; orgId: string }>;
  /** The switch, when this stack manages it itself (a stack without a platform stack). */
  containerServicesToggle?: pulumi.Resource;
  containerServicesManaged: boolean;
  /** The team's cluster policy, when a platform stack names one. */
  policy?: PlatformTeam;
}

/**
 * The platform stack's outputs, read one by one; a stack the backend cannot
 * read (never created, or a wrong name) fails naming the key, where the
 * backend's own error names none.
 */
export async function platformOutputs(
  get: (name: string) => Promise<{ value?: unknown; secretValue?: unknown }>,
  stack: string,
  platformStack: string,
): Promise<Record<string, unknown>> {
  const outputs: Record<string, unknown> = {};
  try {
    for (const name of PLATFORM_OUTPUTS) {
      const details = await get(name);
      outputs[name] = details.value ?? details.secretValue;
    }
  } catch (e) {
    throw new pulumi.RunError(
      new ConfigError(`Pulumi.${stack}.yaml`, [
        { key: "dcs:platform.stack", message: `platform stack ${platformStack} cannot be read (${(e as Error).message}); create and deploy it first (pulumi stack init and pulumi up on it), or correct the name` },
      ]).message,
    );
  }
  return outputs;
}

/** Reads the platform stack's outputs; throws, naming the key, when the team cannot deploy against them. */
async function readPlatform(team: TeamStackConfig, platformStack: string): Promise<PlatformOutputs> {
  const ref = new pulumi.StackReference("platform", { name: platformStack });
  const outputs = await platformOutputs((name) => ref.getOutputDetails(name), team.stack, platformStack);
  const registryHost = `${team.registry.name.toLowerCase()}.azurecr.io`;
  const problems = platformProblems(outputs, { platformStack, team: team.team, registryHost });
  // The policy fixes some tags; the team's own must agree, or Databricks refuses the cluster.
  const entry = (outputs.teams as Record<string, PlatformTeam> | undefined)?.[team.team];
  const ours = standardTags({ environment: team.environment, team: team.team, costCenter: team.costCenter }, team.tags);
  for (const [tag, value] of Object.entries(entry?.fixedTags ?? {})) {
    if (ours[tag] !== undefined && ours[tag] !== value) {
      const key = tag === "costCenter" ? "dcs:costCenter" : tag === "team" ? "dcs:team" : `dcs:tags.${tag}`;
      problems.push({ key, message: `is "${ours[tag]}", but the platform stack's cluster policy fixes the cluster tag ${tag} to "${value}"` });
    }
  }
  if (problems.length > 0) throw new pulumi.RunError(new ConfigError(`Pulumi.${team.stack}.yaml`, problems).message);
  return outputs as unknown as PlatformOutputs;
}

/** Step 1: the workspace, from the platform stack or from this stack's own configuration. */
async function teamWorkspace(team: TeamStackConfig): Promise<TeamWorkspace> {
  if (team.platform) {
    const platform = await readPlatform(team, team.platform.stack);
    return {
      provider: workspaceProvider({ url: platform.workspaceUrl }),
      // The org id is the workspace id the platform exports.
      info: workspaceInfo({ url: platform.workspaceUrl }).apply((w) => ({ host: w.host, orgId: String(platform.workspaceId) })),
      containerServicesManaged: false,
      // Not known offline (a platform stack outside the repository): carry the marker, not nothing.
      policy: isUnknownMarker(platform.teams)
        ? { policyId: String(platform.teams), group: "", registries: [], fixedTags: {} }
        : platform.teams[team.team],
    };
  }
  const provider = workspaceProvider(team.workspace);
  // Only stacks run by a workspace admin own this workspace-wide switch.
  const containerServices = new ContainerServices("container-services", { manage: team.containerServices.manage, provider });
  return { provider, info: workspaceInfo(team.workspace), containerServicesToggle: containerServices.toggle, containerServicesManaged: containerServices.managed };
}

/** The images with a pull identity of their own: their names and the identities' object ids (each gets AcrPull). */
function imageEntriesOwnIdentity(team: TeamStackConfig): [string, string][] {
  return Object.entries(team.images).flatMap(([name, spec]) => (spec.pullIdentity ? [[name, spec.pullIdentity.objectId] as [string, string]] : []));
}

/** The team stack: its outputs once everything is declared. */
export async function teamStack(team: TeamStackConfig): Promise<Record<string, unknown>> {
  const ws = await teamWorkspace(team);
  return teamResources(team, ws);
}

/** Steps 2 to 5: what a team stack declares on top of the workspace. */
function teamResources(team: TeamStackConfig, ws: TeamWorkspace) {
  const { provider: workspace, info, containerServicesToggle, policy } = ws;
  const tags = { ...standardTags({ environment: team.environment, team: team.team, costCenter: team.costCenter }, team.tags), ...(policy?.fixedTags ?? {}) };
  const push = team.image.push;

  // 2. Registry, grants, image, retention.
  const registry = new ContainerRegistry("registry", {
    location: team.location,
    resourceGroup: team.resourceGroup,
    registryName: team.registry.name,
    sku: team.registry.sku,
    adminUserEnabled: team.registry.adminUserEnabled,
    pullPrincipalObjectId: team.pullIdentity.objectId,
    morePullPrincipals: Object.fromEntries(imageEntriesOwnIdentity(team)),
    pushPrincipalObjectId: push.mode === "servicePrincipal" ? push.objectId : undefined,
    grantWaitSeconds: team.registry.grantWaitSeconds,
    protect: team.registryProtected,
    tags,
  });

  const pushCredentials =
    push.mode === "servicePrincipal" && push.clientId && team.pushClientSecret
      ? { username: push.clientId, password: team.pushClientSecret }
      : push.mode === "adminUser"
        ? registry.adminCredentials
        : undefined; // dockerConfig: the runner's `az acr login` (scripts/ci/registry-login.sh)

  // ACR's login server is the registry name in lower case under azurecr.io (Azure public cloud):
  // known before the registry exists, so the base and cache references are plain strings.
  const registryHost = `${team.registry.name.toLowerCase()}.azurecr.io`;
  const imageEntries = Object.entries(team.images);
  // Each image: built and pushed to its own repository under its own content tag, its old tags
  // purged. The default image keeps the resource names it has always had.
  const built = Object.fromEntries(
    imageEntries.map(([name, spec]) => {
      const suffix = name === DEFAULT_IMAGE ? "" : `-${name}`;
      const image = new ClusterImage(`image${suffix}`, {
        context: spec.context,
        projectRoot,
        registryServer: registry.loginServer,
        repository: spec.repository,
        runtime: spec.runtime,
        base: spec.gpu ? cudaBaseImage(spec.gpu.cuda, spec.gpu.ubuntu) : undefined,
        gpu: spec.gpu ? { cuda: spec.gpu.cuda, python: spec.gpu.python } : undefined,
        buildArgs: spec.buildArgs,
        baseDigest: spec.baseDigest,
        baseRegistry: spec.baseFromRegistry ? registryHost : undefined,
        cacheFrom: spec.baseFromRegistry ? `${registryHost}/${spec.repository}:${BUILD_CACHE_TAG}` : undefined,
        source: spec.source,
        credentials: pushCredentials,
        dependsOn: registry.pushReady ? [registry.pushReady] : [],
      });
      new RegistryRetention(`registry-retention${suffix}`, {
        registryName: registry.registryName,
        resourceGroupName: registry.resourceGroupName,
        location: team.location,
        repository: spec.repository,
        taskName: `dcs-purge${suffix}`,
        inUseTag: image.tag,
        keepTags: team.registry.keepTags,
        schedule: team.registry.purgeSchedule,
        tags,
      });
      return [name, { spec, image }];
    }),
  );
  const imageRefOf = (imageName: string, mode: "digest" | "tag") => (mode === "tag" ? built[imageName].image.imageName : built[imageName].image.digestRef);
  const clusterEntries = Object.entries(team.clusters);

  // 3. The pull secrets: in a scope of this stack, a key per image (the default image's is
  // dcs:pullSecret.key, another image's <key>-<image>), or kept by someone else.
  // Whoever starts a cluster reads the secret: every cluster's owner and group, and the listed readers.
  // A job cluster is dedicated to the service principal the job runs as: it reads the secret too.
  const owners = [...clusterEntries.flatMap(([, cl]) => [cl.singleUserName, ...(cl.groupName ? [cl.groupName] : [])]), ...Object.values(team.jobs).map((j) => j.runAs)];
  const readers = readersOf(owners[0], [...owners.slice(1), ...team.pullSecret.readers]);
  const imageKey = (name: string) => `${team.pullSecret.key}-${name}`;
  // Every other image gets a key of its own, unless its identity's secret is kept elsewhere.
  const moreKeys = imageEntries.filter(([name, spec]) => name !== DEFAULT_IMAGE && spec.pullIdentity?.secretReference === undefined);
  const pullSecret = new PullSecret(
    "pull-secret",
    team.pullIdentity.secretReference !== undefined
      ? { mode: "external", reference: team.pullIdentity.secretReference, readers }
      : {
          mode: "declared",
          scope: team.pullSecret.scope ?? `dcs-${team.team}-${team.stack}`,
          key: team.pullSecret.key,
          value: team.pullClientSecret!,
          more: moreKeys.map(([name, spec]) => ({ key: imageKey(name), value: spec.pullIdentity ? team.imagePullSecrets[name] : team.pullClientSecret! })),
          readers,
          managers: team.pullSecret.managers,
          provider: workspace,
        },
  );
  /** How a cluster, pool or job pulls an image: the identity's client id and its secret's reference. */
  const pullOf = (imageName: string) => {
    const own = team.images[imageName].pullIdentity;
    const reference =
      own?.secretReference ?? (imageName === DEFAULT_IMAGE || team.pullIdentity.secretReference !== undefined ? pullSecret.reference : pullSecret.moreReferences[imageKey(imageName)]);
    return { username: own?.clientId ?? team.pullIdentity.clientId, password: reference, granted: own ? registry.morePullReady[imageName] : registry.pullReady };
  };
  const pullPrerequisites = imageEntries
    .filter(([, spec]) => spec.pullIdentity?.secretReference !== undefined)
    .map(([name, spec]) => `Databricks secret ${spec.pullIdentity!.secretReference} exists and holds the client secret of image ${name}'s pull identity (${spec.pullIdentity!.clientId}); READ on its scope for ${readers.join(", ")}`);

  // 4. Init scripts.
  const initScripts = new InitScripts("init-scripts", {
    store: team.initScripts.store,
    folder: team.initScripts.path ?? defaultInitScriptFolder(team.initScripts.store, team.stack) ?? "",
    dir: fromRoot(team.initScripts.dir),
    provider: workspace,
  });

  // 5a. Warm pools: VMs kept idle with the image and the runtime already on them, so a cluster
  // drawing from a pool skips the image pull at start. A pool preloads the image it names, by
  // reference as the first cluster that draws from it names it (digest or tag).
  const runtimeKey = (imageName: string, sparkVersion?: string) => sparkVersion ?? `${runtimeOfImageTag(team.images[imageName].runtime)}.x-scala2.12`;
  const poolIds: Record<string, pulumi.Output<string>> = {};
  for (const [name, pool] of Object.entries(team.pools)) {
    const user = clusterEntries.find(([, cl]) => cl.pool?.workers === name || cl.pool?.driver === name)?.[1];
    const pull = pullOf(pool.image);
    const cuda = team.images[pool.image].gpu?.cuda;
    const warm = new WarmPool(`pool-${name}`, {
      poolName: `${team.team}-${name}-${team.stack}`,
      nodeType: pool.nodeType,
      imageRef: imageRefOf(pool.image, user?.imageReference ?? "digest"),
      pullUsername: pull.username,
      pullPassword: pull.password,
      sparkVersion: runtimeKey(pool.image, user?.sparkVersion),
      minIdleInstances: pool.minIdleInstances,
      maxCapacity: pool.maxCapacity,
      idleMinutes: pool.idleMinutes,
      availability: pool.spot ? "SPOT_AZURE" : "ON_DEMAND_AZURE",
      spotMaxPrice: pool.spotMaxPrice,
      // Clusters inherit a pool's tags and may not repeat a key, so the cost tags stay on the clusters.
      // A GPU pool names its CUDA, for the policy pack (a pool carries no environment variables).
      customTags: { dcsPool: name, ...(cuda ? { [POOL_CUDA_TAG]: cuda } : {}) },
      dependsOn: [...(containerServicesToggle ? [containerServicesToggle] : []), pull.granted, ...pullSecret.ready],
      provider: workspace,
    });
    poolIds[name] = warm.poolId;
    // Who draws from the pool: the clusters' owners and the jobs' service principals (a job's
    // run-as identity is checked against the compute it uses).
    const users = [
      ...clusterEntries.filter(([, cl]) => cl.pool?.workers === name || cl.pool?.driver === name).flatMap(([, cl]) => [cl.singleUserName, ...(cl.groupName ? [cl.groupName] : [])]),
      ...Object.values(team.jobs).filter((j) => j.pool?.workers === name || j.pool?.driver === name).map((j) => j.runAs),
    ];
    if (users.length > 0) {
      new databricks.Permissions(
        `pool-${name}-attach`,
        { instancePoolId: warm.poolId, accessControls: [...new Set(users)].map((p) => accessControlFor(p, "CAN_ATTACH_TO")) },
        { provider: workspace, parent: warm },
      );
    }
  }

  // 5. The clusters: each waits for the switch (when this stack owns it), the applied AcrPull
  // grant, the secret and its READ grants, and the uploads.
  const sharedEnv = { ...daskEnvVars(team.dask), [SCRIPTS_HASH_VAR]: initScripts.contentHash };
  const envFor = (imageName: string) => {
    const gpu = team.images[imageName].gpu;
    return gpu ? { ...sharedEnv, ...gpuEnvVars(gpu.cuda) } : sharedEnv;
  };
  const waitFor = (imageName: string) => [...(containerServicesToggle ? [containerServicesToggle] : []), pullOf(imageName).granted, ...pullSecret.ready, ...initScripts.uploads];
  const clusters = clusterEntries.map(([name, cl]) => {
    const pull = pullOf(cl.image);
    const spec = team.images[cl.image];
    const cluster = new DcsCluster(`cluster-${name}`, {
      clusterName: cl.name ?? `${team.team}-${name}-${team.stack}`,
      imageRef: imageRefOf(cl.image, cl.imageReference),
      pullUsername: pull.username,
      pullPassword: pull.password,
      initScripts: initScripts.blocks,
      sparkVersion: cl.sparkVersion,
      expectedRuntime: runtimeOfImageTag(spec.runtime),
      nodeType: cl.nodeType,
      driverNodeType: cl.driverNodeType,
      minCores: cl.minCores,
      minMemoryGb: cl.minMemoryGb,
      minGpus: spec.gpu ? cl.minGpus : undefined,
      numWorkers: cl.numWorkers,
      autoscale: cl.autoscale,
      singleNode: cl.singleNode,
      autoterminationMinutes: cl.autoterminationMinutes,
      singleUserName: cl.singleUserName,
      groupName: cl.groupName,
      spot: cl.spot ? { maxPrice: cl.spotMaxPrice } : undefined,
      instancePoolId: cl.pool ? poolIds[cl.pool.workers] : undefined,
      driverInstancePoolId: cl.pool?.driver ? poolIds[cl.pool.driver] : undefined,
      customTags: { ...cl.tags, ...tags, ...(cl.longRunning ? { longRunning: "true" } : {}) },
      sparkEnvVars: { ...cl.sparkEnvVars, ...envFor(cl.image) },
      sparkConf: initScripts.sparkConf,
      logDestination: cl.logDestination,
      policyId: policy?.policyId,
      dependsOn: waitFor(cl.image),
      provider: workspace,
    });
    const dashboardUrl = pulumi.all([info, cluster.clusterId]).apply(([w, id]) => driverProxyUrl(w.host, w.orgId, id, team.dask.dashboardPort));
    return { name, cl, cluster, dashboardUrl };
  });

  const first = clusters[0];
  const prerequisites = [...pullSecret.prerequisites, ...pullPrerequisites];
  // Log volumes: written by every cluster's owner, and by the jobs' service principals (their job clusters log there too).
  const writersByVolume = new Map<string, Set<string>>();
  for (const { cl } of clusters) {
    const logs = cl.logDestination;
    if (!logs?.startsWith("/Volumes/")) continue;
    const volume = logs.split("/").slice(2, 5).join(".");
    const writers = writersByVolume.get(volume) ?? new Set<string>();
    writers.add(cl.groupName ?? cl.singleUserName);
    if (cl === first.cl) for (const w of Object.values(team.jobs).map((j) => j.runAs)) writers.add(w);
    writersByVolume.set(volume, writers);
  }
  for (const [volume, writers] of writersByVolume) {
    prerequisites.push(
      `Unity Catalog volume ${volume} exists for the cluster's logs, and ${[...writers].join(", ")} hold(s) USE CATALOG, USE SCHEMA, READ VOLUME and WRITE VOLUME on it (what writing files to a volume takes)`,
    );
  }
  const jobWriters = Object.values(team.jobs).map((j) => j.runAs);
  if (Object.keys(team.pools).length > 0) {
    prerequisites.push("the identity that runs pulumi up may create instance pools (the allow-instance-pool-create entitlement, which a workspace admin grants; off by default)");
  }
  if (Object.keys(team.jobs).length > 0) {
    prerequisites.push(
      `the identity that runs pulumi up holds the Service Principal User role on ${[...new Set(jobWriters)].join(", ")} (a job runs as that service principal), and the platform stack lists it in dcs:teams.${team.team}.jobPrincipals (CAN_USE on the job-cluster policy)`,
    );
  }

  // 6. Jobs: each on a fresh job cluster from the same image, scripts and secret (or a pool),
  // running a Python file of jobs/ as the service principal it names.
  const jobs = Object.entries(team.jobs).map(([name, job]) => {
    // The job cluster follows the first cluster on the same image (its runtime, size and logs), or
    // the first cluster's logs and the image's runtime when no cluster boots that image.
    const sibling = clusters.find(({ cl }) => cl.image === job.image);
    const pull = pullOf(job.image);
    const spec = team.images[job.image];
    const daskJob = new DaskJob(`job-${name}`, {
      jobName: `${team.team}-${name}-${team.stack}`,
      pythonFile: path.join(projectRoot, "jobs", job.file),
      folder: defaultJobFolder("workspace", team.stack)!,
      parameters: job.parameters,
      runAsServicePrincipal: job.runAs,
      schedule: job.schedule ? { quartzCronExpression: job.schedule.cron, timezoneId: job.schedule.timezone } : undefined,
      timeoutSeconds: job.timeoutMinutes * 60,
      cluster: {
        imageRef: imageRefOf(job.image, (sibling ?? first).cl.imageReference),
        pullUsername: pull.username,
        pullPassword: pull.password,
        sparkVersion: sibling ? sibling.cluster.sparkVersion : runtimeKey(job.image),
        nodeType: job.pool ? undefined : (job.nodeType ?? sibling?.cl.nodeType),
        minCores: (sibling ?? first).cl.minCores,
        minMemoryGb: (sibling ?? first).cl.minMemoryGb,
        minGpus: spec.gpu ? (sibling?.cl.minGpus ?? 1) : undefined,
        numWorkers: job.numWorkers,
        spot: job.spot ? {} : undefined,
        instancePoolId: job.pool ? poolIds[job.pool.workers] : undefined,
        driverInstancePoolId: job.pool?.driver ? poolIds[job.pool.driver] : undefined,
        initScripts: initScripts.blocks,
        sparkEnvVars: envFor(job.image),
        sparkConf: initScripts.sparkConf,
        customTags: { ...tags, dcsJob: name },
        logDestination: first.cl.logDestination,
        policyId: policy?.jobPolicyId ?? policy?.policyId,
      },
      dependsOn: waitFor(job.image),
      provider: workspace,
    });
    return [name, { id: daskJob.jobId, url: daskJob.url }] as const;
  });

  return {
    containerServicesManaged: ws.containerServicesManaged,
    registryLoginServer: registry.loginServer,
    imageRef: imageRefOf(DEFAULT_IMAGE, first.cl.imageReference),
    imageTag: built[DEFAULT_IMAGE].image.tag,
    images: pulumi.output(
      Object.fromEntries(Object.entries(built).map(([name, { spec, image }]) => [name, { ref: image.digestRef, tagged: image.imageName, tag: image.tag, repository: spec.repository, ...(spec.gpu ? { cuda: spec.gpu.cuda } : {}) }])),
    ),
    pullSecretReference: pullSecret.reference,
    externalPrerequisites: prerequisites,
    initScriptDestinations: pulumi.output(initScripts.destinations),
    clusters: pulumi.output(Object.fromEntries(clusters.map(({ name, cluster, dashboardUrl }) => [name, { id: cluster.clusterId, url: cluster.url, dashboardUrl }]))),
    pools: pulumi.output(poolIds),
    jobs: pulumi.output(Object.fromEntries(jobs)),
  };
}

