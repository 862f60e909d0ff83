/**
 * ContainerServices: the workspace-wide Databricks Container Services switch
 * (workspace-conf key `enableDcs`). Only a workspace admin may set it, so a
 * stack manages it only when it says so; team stacks leave it alone.
 */
import * as pulumi from "@pulumi/pulumi";
import * as databricks from "@pulumi/databricks";
import { childName } from "./naming";

/** Workspace-conf value that turns custom containers on. */
export const ENABLE_DCS = { enableDcs: "true" } as const;

export interface ContainerServicesArgs {
  /** Whether this stack owns the toggle (platform admins). Default: false. */
  manage?: boolean;
  /** Workspace-level Databricks provider. */
  provider: databricks.Provider;
}

export class ContainerServices extends pulumi.ComponentResource {
  /** True when this stack owns the toggle. */
  public readonly managed: boolean;
  /** The toggle resource, for `dependsOn`; undefined when not managed. */
  public readonly toggle?: databricks.WorkspaceConf;

  constructor(name: string, args: ContainerServicesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("dcs:index:ContainerServices", name, {}, opts);
    this.managed = args.manage ?? false;
    if (this.managed) {
      // Deleting a WorkspaceConf resets every enable* key to "false", switching
      // custom containers off for the whole workspace: keep it on destroy.
      this.toggle = new databricks.WorkspaceConf(
        childName(name, "enable-dcs"),
        { customConfig: { ...ENABLE_DCS } },
        { parent: this, provider: args.provider, retainOnDelete: true },
      );
    }
    this.registerOutputs({ managed: this.managed });
  }
}
