/**
 * The types the loader hands the program: a team stack's or a platform
 * admin's configuration, every default applied.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { Parsed } from "./schema";

/** The validated configuration of a team stack (registry, image, scripts, cluster), every default applied. */
export interface TeamStackConfig extends Omit<Parsed, "environment" | "pullClientSecret" | "pushClientSecret"> {
  kind: "team";
  /** Stack name, e.g. dev. */
  stack: string;
  /** dev, test or prod (from dcs:environment or the stack name). */
  environment: "dev" | "test" | "prod";
  /** Client secret of the pull identity, a Pulumi secret (absent when pullIdentity.secretReference is used). */
  pullClientSecret?: pulumi.Output<string>;
  /** Client secret of the push identity, a Pulumi secret (push mode servicePrincipal only). */
  pushClientSecret?: pulumi.Output<string>;
  /** Whether the registry is protected from deletion. */
  registryProtected: boolean;
  /** Settings that are allowed but deserve a warning at every preview, each naming its key. */
  warnings: { key: string; message: string }[];
}

/** Keys a container-services-only stack (a platform admin's) may set. */
export const ADMIN_KEYS = ["environment", "team", "costCenter", "tags", "workspace", "containerServices"] as const;

/** The validated configuration of a platform admin's stack: the workspace switch and nothing else. */
export interface AdminStackConfig {
  kind: "admin";
  stack: string;
  environment: "dev" | "test" | "prod";
  workspace: Parsed["workspace"];
  containerServices: Parsed["containerServices"];
  tags: Record<string, string>;
}

/** The validated configuration of one stack. */
export type StackConfig = TeamStackConfig | AdminStackConfig;

/** What parseStackConfig returns: secrets still plain, before they become Pulumi secrets. */
export type ParsedStackConfig =
  | (Omit<TeamStackConfig, "pullClientSecret" | "pushClientSecret"> & { pullClientSecret?: string; pushClientSecret?: string })
  | AdminStackConfig;

