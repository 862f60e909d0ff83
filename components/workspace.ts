/**
 * Facts about the Azure Databricks workspace a stack deploys into: its host
 * and organisation id, and the URL under which the driver proxy serves a port
 * of a cluster's driver (what a user opens for the Dask dashboard).
 *
 * An Azure workspace URL is `adb-<workspace id>.<n>.azuredatabricks.net`
 * (azure-native `databricks.getWorkspace`: `workspaceUrl` "is of the format
 * adb-{workspaceId}.{random}.azuredatabricks.net"), and the workspace id is the
 * organisation id the driver proxy's path takes
 * (`/driver-proxy/o/<org id>/<cluster id>/<port>/`, as dask-databricks builds
 * its dashboard link in `databrickscluster.py`).
 */

/** The host of a workspace URL, without scheme or slash. */
export function workspaceHost(url: string): string {
  return url.replace(/^https?:\/\//, "").replace(/\/.*$/, "");
}

/** The organisation (workspace) id in an Azure workspace URL, or undefined when the URL does not carry it. */
export function orgIdOfWorkspaceUrl(url: string): string | undefined {
  return /^adb-(\d+)\.\d+\.azuredatabricks\.net$/.exec(workspaceHost(url))?.[1];
}

/** Resource group and name of a workspace from its Azure resource id. */
export function workspaceOfResourceId(resourceId: string): { resourceGroupName: string; workspaceName: string } {
  const m = /^\/subscriptions\/[^/]+\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Databricks\/workspaces\/([^/]+)$/i.exec(resourceId);
  if (!m) throw new Error(`not a Databricks workspace resource id: ${resourceId}`);
  return { resourceGroupName: m[1], workspaceName: m[2] };
}

/**
 * The driver proxy's URL of a port on a cluster's driver, at `path` (the Dask
 * dashboard is `status`). The port must be one the proxy serves: it refuses
 * the Dask default 8787 (dask-databricks moved to 8087 for that reason).
 */
export function driverProxyUrl(host: string, orgId: string, clusterId: string, port: number, path = "status"): string {
  return `https://${workspaceHost(host)}/driver-proxy/o/${orgId}/${clusterId}/${port}/${path}`;
}

/** Ports the driver proxy refuses to serve. */
export const DRIVER_PROXY_REFUSED_PORTS: readonly number[] = [8787];
