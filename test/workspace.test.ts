import { describe, expect, it } from "vitest";
import { clusterLogConf } from "../components/dcsCluster";
import { driverProxyUrl, orgIdOfWorkspaceUrl, workspaceHost, workspaceOfResourceId } from "../components/workspace";

describe("workspace facts", () => {
  it("reads the org id from an Azure workspace URL, and nothing from another host", () => {
    expect(orgIdOfWorkspaceUrl("https://adb-1234567890123456.7.azuredatabricks.net")).toBe("1234567890123456");
    expect(orgIdOfWorkspaceUrl("https://adb-42.11.azuredatabricks.net/")).toBe("42");
    expect(orgIdOfWorkspaceUrl("https://dbc-1234.cloud.databricks.com")).toBeUndefined();
    expect(workspaceHost("https://adb-1.2.azuredatabricks.net/?o=1")).toBe("adb-1.2.azuredatabricks.net");
  });

  it("names a workspace's group and name from its resource id", () => {
    expect(workspaceOfResourceId("/subscriptions/s/resourceGroups/rg-x/providers/Microsoft.Databricks/workspaces/dbw-y")).toEqual({ resourceGroupName: "rg-x", workspaceName: "dbw-y" });
    expect(() => workspaceOfResourceId("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/x")).toThrow(/not a Databricks workspace/);
  });

  it("builds the driver-proxy URL of a port on the driver", () => {
    expect(driverProxyUrl("adb-1.2.azuredatabricks.net", "1", "0101-abc", 8087)).toBe("https://adb-1.2.azuredatabricks.net/driver-proxy/o/1/0101-abc/8087/status");
    expect(driverProxyUrl("https://adb-1.2.azuredatabricks.net/", "1", "c", 9000, "info/main/workers.html")).toBe("https://adb-1.2.azuredatabricks.net/driver-proxy/o/1/c/9000/info/main/workers.html");
  });

  it("delivers logs to a volume or DBFS, and to nothing else", () => {
    expect(clusterLogConf("/Volumes/c/s/v/logs")).toEqual({ volumes: { destination: "/Volumes/c/s/v/logs" } });
    expect(clusterLogConf("dbfs:/cluster-logs")).toEqual({ dbfs: { destination: "dbfs:/cluster-logs" } });
    expect(clusterLogConf(undefined)).toBeUndefined();
    expect(() => clusterLogConf("/tmp/x")).toThrow(/neither/);
  });
});
