/**
 * The dcs-platform program: what `pulumi up` runs for every stack, and what
 * the tests and the offline renderer run too.
 *
 * Read top to bottom:
 *   1. the stack's configuration is validated as a whole (nothing is created
 *      when any key is wrong);
 *   2. the workspace provider and the container-services switch, if this stack owns it;
 *   3. a team stack then declares its registry, which receives the cluster
 *      image built from infra/image;
 *   4. the init scripts from infra/init-scripts are uploaded;
 *   5. the cluster boots from the image's digest and runs those scripts.
 * A platform admin's stack (dcs:containerServices.only) stops after step 2.
 */
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as databricks from "@pulumi/databricks";
import { ClusterImage } from "../components/clusterImage";
import { ContainerRegistry } from "../components/containerRegistry";
import { ContainerServices } from "../components/containerServices";
import { DcsCluster } from "../components/dcsCluster";
import { defaultInitScriptFolder, InitScripts } from "../components/initScripts";
import { standardTags } from "../components/naming";
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

// Only stacks run by a workspace admin own this workspace-wide switch.
const containerServices = new ContainerServices("container-services", {
  manage: cfg.containerServices.manage,
  provider: workspace,
});

/** Steps 3 to 5: what a team stack declares on top of the workspace. */
function teamResources(team: TeamStackConfig) {
  const tags = standardTags({ environment: team.environment, team: team.team, costCenter: team.costCenter }, team.tags);

  // 3. Registry and image.
  const registry = new ContainerRegistry("registry", {
    location: team.location,
    resourceGroup: team.resourceGroup,
    registryName: team.registry.name,
    sku: team.registry.sku,
    adminUserEnabled: team.registry.adminUserEnabled,
    pullPrincipalObjectId: team.pullIdentity.objectId,
    protect: team.registryProtected,
    tags,
  });

  const push = team.image.push;
  const pushCredentials =
    push.mode === "servicePrincipal" && push.clientId && team.pushClientSecret
      ? { username: push.clientId, password: team.pushClientSecret }
      : push.mode === "adminUser"
        ? registry.adminCredentials
        : undefined; // dockerConfig: the runner's `az acr login`

  const image = new ClusterImage("image", {
    context: fromRoot(team.image.context),
    registryServer: registry.loginServer,
    repository: team.image.repository,
    runtime: team.image.runtime,
    source: team.image.source,
    credentials: pushCredentials,
  });

  // 4. Init scripts.
  const initScripts = new InitScripts("init-scripts", {
    store: team.initScripts.store,
    folder: team.initScripts.path ?? defaultInitScriptFolder(team.initScripts.store, team.stack) ?? "",
    dir: fromRoot(team.initScripts.dir),
    provider: workspace,
  });

  // 5. The cluster: waits for the switch (when this stack owns it) and the uploads.
  const cluster = new DcsCluster("cluster", {
    clusterName: team.cluster.name ?? `${team.team}-dask-${team.stack}`,
    imageRef: image.imageRef,
    pullUsername: team.pullIdentity.clientId,
    pullPassword: team.pullClientSecret ?? team.pullIdentity.secretReference ?? "",
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
    sparkEnvVars: { ...daskEnvVars(team.dask), ...team.cluster.sparkEnvVars },
    dependsOn: [...(containerServices.toggle ? [containerServices.toggle] : []), ...initScripts.uploads],
    provider: workspace,
  });

  return {
    registryLoginServer: registry.loginServer,
    imageRef: image.imageRef,
    imageTag: image.tag,
    initScriptDestinations: pulumi.output(initScripts.destinations),
    clusterId: cluster.clusterId,
    clusterUrl: cluster.url,
  };
}

const team = cfg.kind === "team" ? teamResources(cfg) : undefined;

// Stack outputs (a platform admin's stack has only containerServicesManaged).
export const containerServicesManaged = containerServices.managed;
export const registryLoginServer = team?.registryLoginServer;
export const imageRef = team?.imageRef;
export const imageTag = team?.imageTag;
export const initScriptDestinations = team?.initScriptDestinations;
export const clusterId = team?.clusterId;
export const clusterUrl = team?.clusterUrl;
