"""Connect a notebook on a dcs-platform Databricks cluster to the cluster's Dask.

    import dcs_dask
    client = dcs_dask.get_client()

The cluster's init script (infra/init-scripts/init_script_dask.sh) runs a Dask
scheduler on the driver and writes its address to <run dir>/scheduler.json.
get_client() looks for the scheduler, in this order:

1. the scheduler file, <run dir>/scheduler.json, where the run dir is
   $DCS_DASK_RUN_DIR, else /local_disk0/dask when /local_disk0 exists, else
   /databricks/dask (the init script's own defaults);
2. tcp://$DB_DRIVER_IP:<port>, when DB_DRIVER_IP is set;
3. tcp://127.0.0.1:<port> (a notebook runs on the driver, beside the scheduler);

with <port> from $DCS_DASK_SCHEDULER_PORT, else 8786. It returns a connected
distributed.Client, or raises SchedulerNotFoundError naming every place it
looked and what went wrong there. On Databricks it also points the client's
dashboard link at the driver proxy, which serves the dashboard port
($DCS_DASK_DASHBOARD_PORT, else 8087).

Standard library only at import; distributed is imported by get_client().
"""

import json
import os
import socket
import time

__all__ = ["SchedulerNotFoundError", "dashboard_url", "get_client", "scheduler_candidates"]

DEFAULT_SCHEDULER_PORT = 8786
DEFAULT_DASHBOARD_PORT = 8087


class SchedulerNotFoundError(RuntimeError):
    """No Dask scheduler answered at any of the places get_client() looked."""


def default_run_dir(environ=None):
    """The init script's run dir: DCS_DASK_RUN_DIR, else /local_disk0/dask or /databricks/dask."""
    environ = os.environ if environ is None else environ
    if environ.get("DCS_DASK_RUN_DIR"):
        return environ["DCS_DASK_RUN_DIR"]
    return "/local_disk0/dask" if os.path.isdir("/local_disk0") else "/databricks/dask"


def scheduler_candidates(environ=None):
    """(where it came from, address or None, why not) for each place to look, in order."""
    environ = os.environ if environ is None else environ
    port = environ.get("DCS_DASK_SCHEDULER_PORT") or str(DEFAULT_SCHEDULER_PORT)
    found = []
    scheduler_file = os.path.join(default_run_dir(environ), "scheduler.json")
    try:
        with open(scheduler_file, encoding="utf-8") as handle:
            found.append((f"scheduler file {scheduler_file}", json.load(handle)["address"], None))
    except FileNotFoundError:
        found.append((f"scheduler file {scheduler_file}", None, "not found (the scheduler is not running, or not on this node)"))
    except (OSError, ValueError, KeyError, TypeError) as error:
        found.append((f"scheduler file {scheduler_file}", None, f"unreadable: {type(error).__name__}: {error}"))
    if environ.get("DB_DRIVER_IP"):
        found.append(("DB_DRIVER_IP", f"tcp://{environ['DB_DRIVER_IP']}:{port}", None))
    if not any(address == f"tcp://127.0.0.1:{port}" for _, address, _ in found):
        found.append(("this node", f"tcp://127.0.0.1:{port}", None))
    return found


def _answers(address, timeout):
    """None when something accepts TCP connections at address, else why not."""
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
        return None
    except (OSError, ValueError) as error:
        return f"{type(error).__name__}: {error}"


def dashboard_url(workspace_host, org_id, cluster_id, port=DEFAULT_DASHBOARD_PORT):
    """The driver-proxy URL of the dashboard: https://<host>/driver-proxy/o/<org>/<cluster>/<port>/status."""
    host = workspace_host.split("://", 1)[-1].rstrip("/")
    return f"https://{host}/driver-proxy/o/{org_id}/{cluster_id}/{port}/status"


def _databricks_dashboard_url(environ):
    """The dashboard's driver-proxy URL from the notebook's Spark session, or None off Databricks."""
    try:
        from pyspark.sql import SparkSession

        conf = SparkSession.getActiveSession().conf
        host = conf.get("spark.databricks.workspaceUrl")
        org_id = conf.get("spark.databricks.clusterUsageTags.orgId")
        cluster_id = conf.get("spark.databricks.clusterUsageTags.clusterId")
    except Exception:  # no pyspark, no active session, or a key it does not have
        return None
    if not (host and org_id and cluster_id):
        return None
    return dashboard_url(host, org_id, cluster_id, environ.get("DCS_DASK_DASHBOARD_PORT") or DEFAULT_DASHBOARD_PORT)


def get_client(timeout=30, **client_kwargs):
    """A distributed.Client connected to this cluster's Dask scheduler.

    Looks where scheduler_candidates() says, again and again for up to `timeout`
    seconds (the scheduler may be starting, or restarting under its supervisor),
    and connects to the first address that answers. Extra keyword arguments go
    to distributed.Client. Raises SchedulerNotFoundError, naming what it tried,
    when nothing answered in time.
    """
    import dask
    from distributed import Client

    environ = os.environ
    deadline = time.monotonic() + timeout
    tried = {}
    while True:
        for source, address, problem in scheduler_candidates(environ):
            if address is None:
                tried[source] = problem
                continue
            remaining = deadline - time.monotonic()
            problem = _answers(address, timeout=max(0.2, min(1.0, remaining)))
            if problem is None:
                link = _databricks_dashboard_url(environ)
                if link:
                    dask.config.set({"distributed.dashboard.link": link})
                try:
                    return Client(address, timeout=max(1.0, remaining), **client_kwargs)
                except (OSError, TimeoutError) as error:
                    problem = f"answers, but no Dask client could connect: {type(error).__name__}: {error}"
            tried[f"{address} ({source})"] = problem
        if time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    lines = "\n".join(f"  - {where}: {why}" for where, why in tried.items())
    raise SchedulerNotFoundError(
        f"no Dask scheduler answered within {timeout} s. Tried:\n{lines}\n"
        "The scheduler runs on the driver, started by the cluster's init script init_script_dask.sh: "
        "check that the cluster lists it, and read dask-init.log and dask-scheduler.log in the driver's "
        "Dask log dir (DCS_DASK_LOG_DIR, by default /databricks/driver/logs)."
    )
