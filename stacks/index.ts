/**
 * The dcs-platform program: what `pulumi up` runs for every stack, and what
 * the tests and the offline renderer run too.
 *
 * Read top to bottom:
 *   1. the stack's configuration is validated as a whole (nothing is created
 *      when any key is wrong);
 *   2. a registry receives the cluster image, built from infra/image;
 *   3. the workspace's container-services switch is managed, if this stack owns it;
 *   4. the init scripts from infra/init-scripts are uploaded;
 *   5. the cluster boots from the image's digest and runs those scripts.
 */
import * as path from "node:path";
import * as databricks from "@pulumi/databricks";
import { ClusterImage } from "../components/clusterImage";
import { ContainerRegistry } from "../components/containerRegistry";
import { ContainerServices } from "../components/containerServices";
import { DcsCluster } from "../components/dcsCluster";
import { defaultInitScriptFolder, InitScripts } from "../components/initScripts";
import { standardTags } from "../components/naming";
import { loadStackConfig, runtimeOfImageTag } from "./config";
import { daskEnvVars } from "./dask";

// 1. Configuration: every key checked before anything is declared.
const cfg = loadStackConfig();
const projectRoot = path.resolve(__dirname, "..");
const fromRoot = (p: string) => (path.isAbsolute(p) ? p : path.join(projectRoot, p));
const tags = standardTags({ environment: cfg.environment, team: cfg.team, costCenter: cfg.costCenter }, cfg.tags);

// 2. Registry and image.
const registry = new ContainerRegistry("registry", {
  location: cfg.location,
  resourceGroup: cfg.resourceGroup,
  registryName: cfg.registry.name,
  sku: cfg.registry.sku,
  adminUserEnabled: cfg.registry.adminUserEnabled,
  pullPrincipalObjectId: cfg.pullIdentity.objectId,
  protect: cfg.registryProtected,
  tags,
});

const pushCredentials =
  cfg.image.push.mode === "servicePrincipal"
    ? { username: cfg.image.push.clientId as string, password: cfg.pushClientSecret! }
    : cfg.image.push.mode === "adminUser"
      ? registry.adminCredentials
      : undefined;

const image = new ClusterImage("image", {
  context: fromRoot(cfg.image.context),
  registryServer: registry.loginServer,
  repository: cfg.image.repository,
  runtime: cfg.image.runtime,
  source: cfg.image.source,
  credentials: pushCredentials,
});

// The workspace every Databricks resource below is declared in. Credentials
// come from the environment (Azure CLI login, OIDC or ARM_* variables).
const workspace = new databricks.Provider("workspace", {
  host: cfg.workspace.url,
  azureWorkspaceResourceId: cfg.workspace.resourceId,
});

// 3. Container services: only platform-admin stacks own this workspace-wide switch.
const containerServices = new ContainerServices("container-services", {
  manage: cfg.containerServices.manage,
  provider: workspace,
});

// 4. Init scripts.
const initScripts = new InitScripts("init-scripts", {
  store: cfg.initScripts.store,
  folder: cfg.initScripts.path ?? defaultInitScriptFolder(cfg.initScripts.store, cfg.stack)!,
  dir: fromRoot(cfg.initScripts.dir),
  provider: workspace,
});

// 5. The cluster.
const cluster = new DcsCluster("cluster", {
  clusterName: cfg.cluster.name ?? `${cfg.team}-dask-${cfg.stack}`,
  imageRef: image.imageRef,
  pullUsername: cfg.pullIdentity.clientId,
  pullPassword: cfg.pullClientSecret ?? cfg.pullIdentity.secretReference!,
  initScripts: initScripts.blocks,
  sparkVersion: cfg.cluster.sparkVersion,
  expectedRuntime: runtimeOfImageTag(cfg.image.runtime),
  nodeType: cfg.cluster.nodeType,
  driverNodeType: cfg.cluster.driverNodeType,
  minCores: cfg.cluster.minCores,
  minMemoryGb: cfg.cluster.minMemoryGb,
  numWorkers: cfg.cluster.numWorkers,
  autoscale: cfg.cluster.autoscale,
  autoterminationMinutes: cfg.cluster.autoterminationMinutes,
  singleUserName: cfg.cluster.singleUserName,
  customTags: { ...cfg.cluster.tags, ...tags, ...(cfg.cluster.longRunning ? { longRunning: "true" } : {}) },
  sparkEnvVars: { ...daskEnvVars(cfg.dask), ...cfg.cluster.sparkEnvVars },
  dependsOn: [...(containerServices.toggle ? [containerServices.toggle] : []), ...initScripts.uploads],
  provider: workspace,
});

// Stack outputs.
export const registryLoginServer = registry.loginServer;
export const imageRef = image.imageRef;
export const imageTag = image.tag;
export const containerServicesManaged = containerServices.managed;
export const initScriptDestinations = initScripts.destinations;
export const clusterId = cluster.clusterId;
export const clusterUrl = cluster.url;
