/**
 * The Spark environment variables that carry the stack's Dask settings to the
 * init script (infra/init-scripts/init_script_dask.sh reads exactly these).
 */

/** Dask settings of a stack (dcs:dask). */
export interface DaskSettings {
  schedulerPort: number;
  dashboardPort: number;
  workerThreads?: number;
  workerMemory?: string;
  connectRetries: number;
  /** Share of a node's cores and memory the Dask worker takes when threads or memory are not set; the rest stays Spark's. */
  nodeFraction?: number;
}

/** DCS_DASK_* variables for the cluster's sparkEnvVars; unset settings are left to the script's defaults. */
export function daskEnvVars(dask: DaskSettings): Record<string, string> {
  const vars: Record<string, string> = {
    DCS_DASK_SCHEDULER_PORT: String(dask.schedulerPort),
    DCS_DASK_DASHBOARD_PORT: String(dask.dashboardPort),
    DCS_DASK_CONNECT_RETRIES: String(dask.connectRetries),
  };
  if (dask.workerThreads !== undefined) vars.DCS_DASK_WORKER_THREADS = String(dask.workerThreads);
  if (dask.workerMemory !== undefined) vars.DCS_DASK_WORKER_MEMORY = dask.workerMemory;
  if (dask.nodeFraction !== undefined) vars.DCS_DASK_NODE_FRACTION = String(dask.nodeFraction);
  return vars;
}
