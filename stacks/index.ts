/**
 * The dcs-platform program: what `pulumi up` runs for every stack, and what
 * the tests and the offline renderer run too.
 *
 * Read top to bottom:
 *   1. the stack's configuration is validated as a whole (nothing is created
 *      when any key is wrong);
 *   2. the workspace provider and the container-services switch, if this stack owns it;
 *   3. a team stack then declares its registry with the pull (and push) grants,
 *      the cluster image built from infra/image, and the purge of old tags;
 *   4. the pull secret in a Databricks secret scope, readable by the cluster's owner;
 *   5. the init scripts from infra/init-scripts are uploaded;
 *   6. the cluster boots from the image and runs those scripts once the switch,
 *      the grant, the secret and the uploads are in place.
 * A platform admin's stack (dcs:containerServices.only) stops after step 2.
 */
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as databricks from "@pulumi/databricks";
import * as azureDatabricks from "@pulumi/azure-native/databricks";
import { BUILD_CACHE_TAG, ClusterImage } from "../components/clusterImage";
import { ContainerRegistry } from "../components/containerRegistry";
import { ContainerServices } from "../components/containerServices";
import { DcsCluster } from "../components/dcsCluster";
import { defaultInitScriptFolder, InitScripts, SCRIPTS_HASH_VAR } from "../components/initScripts";
import { standardTags } from "../components/naming";
import { PullSecret, readersOf } from "../components/pullSecret";
import { RegistryRetention } from "../components/registryRetention";
import { driverProxyUrl, orgIdOfWorkspaceUrl, workspaceHost, workspaceOfResourceId } from "../components/workspace";
import { loadStackConfig, runtimeOfImageTag, type TeamStackConfig } from "./config";
import { daskEnvVars } from "./dask";

// 1. Configuration: every key checked before anything is declared.
const cfg = loadStackConfig();
const projectRoot = path.resolve(__dirname, "..");
const fromRoot = (p: string) => (path.isAbsolute(p) ? p : path.join(projectRoot, p));

// 2. The workspace every Databricks resource is declared in. Credentials come
// from the environment (Azure CLI login, OIDC or ARM_* variables).
const workspace = new databricks.Provider("workspace", {
  host: cfg.workspace.url,
  azureWorkspaceResourceId: cfg.workspace.resourceId,
});

// The workspace's host and organisation id (for driver-proxy links): from its URL when the
// stack names one, else from Azure, which knows the workspace by its resource id.
const workspaceInfo = cfg.workspace.url
  ? pulumi.output({ host: workspaceHost(cfg.workspace.url), orgId: orgIdOfWorkspaceUrl(cfg.workspace.url) ?? "" })
  : azureDatabricks.getWorkspaceOutput(workspaceOfResourceId(cfg.workspace.resourceId!)).apply((w) => ({ host: workspaceHost(w.workspaceUrl), orgId: w.workspaceId }));

// Only stacks run by a workspace admin own this workspace-wide switch.
const containerServices = new ContainerServices("container-services", {
  manage: cfg.containerServices.manage,
  provider: workspace,
});

/** Steps 3 to 6: what a team stack declares on top of the workspace. */
function teamResources(team: TeamStackConfig) {
  const tags = standardTags({ environment: team.environment, team: team.team, costCenter: team.costCenter }, team.tags);
  const push = team.image.push;

  // 3. Registry, grants, image, retention.
  const registry = new ContainerRegistry("registry", {
    location: team.location,
    resourceGroup: team.resourceGroup,
    registryName: team.registry.name,
    sku: team.registry.sku,
    adminUserEnabled: team.registry.adminUserEnabled,
    pullPrincipalObjectId: team.pullIdentity.objectId,
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
  const image = new ClusterImage("image", {
    context: team.image.context,
    projectRoot,
    registryServer: registry.loginServer,
    repository: team.image.repository,
    runtime: team.image.runtime,
    baseDigest: team.image.baseDigest,
    baseRegistry: team.image.baseFromRegistry ? registryHost : undefined,
    cacheFrom: team.image.baseFromRegistry ? `${registryHost}/${team.image.repository}:${BUILD_CACHE_TAG}` : undefined,
    source: team.image.source,
    credentials: pushCredentials,
    dependsOn: registry.pushReady ? [registry.pushReady] : [],
  });
  const imageRef = team.cluster.imageReference === "tag" ? image.imageName : image.digestRef;

  new RegistryRetention("registry-retention", {
    registryName: registry.registryName,
    resourceGroupName: registry.resourceGroupName,
    location: team.location,
    repository: team.image.repository,
    inUseTag: image.tag,
    keepTags: team.registry.keepTags,
    schedule: team.registry.purgeSchedule,
    tags,
  });

  // 4. The pull secret: declared in a scope of this stack, or kept by someone else.
  const readers = readersOf(team.cluster.singleUserName, team.pullSecret.readers);
  const pullSecret = new PullSecret(
    "pull-secret",
    team.pullIdentity.secretReference !== undefined
      ? { mode: "external", reference: team.pullIdentity.secretReference, readers }
      : {
          mode: "declared",
          scope: team.pullSecret.scope ?? `dcs-${team.team}-${team.stack}`,
          key: team.pullSecret.key,
          value: team.pullClientSecret!,
          readers,
          managers: team.pullSecret.managers,
          provider: workspace,
        },
  );

  // 5. Init scripts.
  const initScripts = new InitScripts("init-scripts", {
    store: team.initScripts.store,
    folder: team.initScripts.path ?? defaultInitScriptFolder(team.initScripts.store, team.stack) ?? "",
    dir: fromRoot(team.initScripts.dir),
    provider: workspace,
  });

  // 6. The cluster: waits for the switch (when this stack owns it), the applied AcrPull grant,
  // the secret and its READ grants, and the uploads.
  const cluster = new DcsCluster("cluster", {
    clusterName: team.cluster.name ?? `${team.team}-dask-${team.stack}`,
    imageRef,
    pullUsername: team.pullIdentity.clientId,
    pullPassword: pullSecret.reference,
    initScripts: initScripts.blocks,
    sparkVersion: team.cluster.sparkVersion,
    expectedRuntime: runtimeOfImageTag(team.image.runtime),
    nodeType: team.cluster.nodeType,
    driverNodeType: team.cluster.driverNodeType,
    minCores: team.cluster.minCores,
    minMemoryGb: team.cluster.minMemoryGb,
    numWorkers: team.cluster.numWorkers,
    autoscale: team.cluster.autoscale,
    autoterminationMinutes: team.cluster.autoterminationMinutes,
    singleUserName: team.cluster.singleUserName,
    customTags: { ...team.cluster.tags, ...tags, ...(team.cluster.longRunning ? { longRunning: "true" } : {}) },
    sparkEnvVars: { ...team.cluster.sparkEnvVars, ...daskEnvVars(team.dask), [SCRIPTS_HASH_VAR]: initScripts.contentHash },
    sparkConf: initScripts.sparkConf,
    logDestination: team.cluster.logDestination,
    dependsOn: [...(containerServices.toggle ? [containerServices.toggle] : []), registry.pullReady, ...pullSecret.ready, ...initScripts.uploads],
    provider: workspace,
  });

  const prerequisites = [...pullSecret.prerequisites];
  const logs = team.cluster.logDestination;
  if (logs?.startsWith("/Volumes/")) {
    const [catalog, schema, volume] = logs.split("/").slice(2, 5);
    prerequisites.push(
      `Unity Catalog volume ${catalog}.${schema}.${volume} exists for the cluster's logs, and ${team.cluster.singleUserName} holds USE CATALOG, USE SCHEMA, READ VOLUME and WRITE VOLUME on it (what writing files to a volume takes)`,
    );
  }

  return {
    registryLoginServer: registry.loginServer,
    imageRef,
    imageTag: image.tag,
    pullSecretReference: pullSecret.reference,
    externalPrerequisites: prerequisites,
    initScriptDestinations: pulumi.output(initScripts.destinations),
    clusterId: cluster.clusterId,
    clusterUrl: cluster.url,
    daskDashboardUrl: pulumi.all([workspaceInfo, cluster.clusterId]).apply(([w, id]) => driverProxyUrl(w.host, w.orgId, id, team.dask.dashboardPort)),
  };
}

const team = cfg.kind === "team" ? teamResources(cfg) : undefined;

// Stack outputs (a platform admin's stack has only containerServicesManaged).
export const containerServicesManaged = containerServices.managed;
export const registryLoginServer = team?.registryLoginServer;
export const imageRef = team?.imageRef;
export const imageTag = team?.imageTag;
export const pullSecretReference = team?.pullSecretReference;
/** What someone outside this stack must have done before it deploys (empty when the stack declares everything). */
export const externalPrerequisites = team?.externalPrerequisites;
export const initScriptDestinations = team?.initScriptDestinations;
export const clusterId = team?.clusterId;
export const clusterUrl = team?.clusterUrl;
/** The Dask dashboard through the workspace's driver proxy (open it signed in to the workspace). */
export const daskDashboardUrl = team?.daskDashboardUrl;
