/**
 * The types the loader hands the program: a team stack's or a platform
 * admin's configuration, every default applied.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { Parsed } from "./schema";

/** The validated configuration of a team stack (registry, image, scripts, cluster), every default applied. */
/** One image of a team stack, every default applied: dcs:image (named default) or an entry of dcs:images. */
export interface ImageSpec {
  repository: string;
  context: string;
  runtime: string;
  baseDigest?: string;
  baseFromRegistry: boolean;
  source?: string;
  buildArgs: Record<string, string>;
  /** A GPU image: its CUDA, the Ubuntu of its base, the driver of the GPU nodes it runs on and its Python (the runtime's when not set). */
  gpu?: { cuda: string; ubuntu: string; driver: string; python: string };
  /** Its own pull identity; absent: the stack's dcs:pullIdentity. */
  pullIdentity?: { clientId: string; objectId: string; secretReference?: string };
}

export interface TeamStackConfig extends Omit<Parsed, "kind" | "environment" | "pullClientSecret" | "pushClientSecret" | "imagePullSecrets" | "teams" | "policy" | "images"> {
  kind: "team";
  /** Stack name, e.g. dev. */
  stack: string;
  /** dev, test or prod (from dcs:environment or the stack name). */
  environment: "dev" | "test" | "prod";
  /** Client secret of the pull identity, a Pulumi secret (absent when pullIdentity.secretReference is used). */
  pullClientSecret?: pulumi.Output<string>;
  /** Client secret of the push identity, a Pulumi secret (push mode servicePrincipal only). */
  pushClientSecret?: pulumi.Output<string>;
  /** Every image of the stack by name, the default one (dcs:image) included. */
  images: Record<string, ImageSpec>;
  /** Client secrets of the images' own pull identities, by image name (Pulumi secrets). */
  imagePullSecrets: Record<string, pulumi.Output<string>>;
  /** Whether the registry is protected from deletion. */
  registryProtected: boolean;
  /** Settings that are allowed but deserve a warning at every preview, each naming its key. */
  warnings: { key: string; message: string }[];
}

/** Keys a platform stack may set. */
export const PLATFORM_KEYS = ["kind", "environment", "tags", "workspace", "containerServices", "teams", "policy"] as const;

/** The validated configuration of a platform stack: one per workspace, the switch and the teams' cluster policies. */
export interface PlatformStackConfig {
  kind: "platform";
  stack: string;
  environment: "dev" | "test" | "prod";
  workspace: Parsed["workspace"];
  containerServices: Parsed["containerServices"];
  tags: Record<string, string>;
  /** Teams by name: group and approved registries. */
  teams: NonNullable<Parsed["teams"]>;
  /** The cluster-policy rules every team's policy applies. */
  policy: NonNullable<Parsed["policy"]>;
}

/** The validated configuration of one stack. */
export type StackConfig = TeamStackConfig | PlatformStackConfig;

/** What parseStackConfig returns: secrets still plain, before they become Pulumi secrets. */
export type ParsedStackConfig =
  | (Omit<TeamStackConfig, "pullClientSecret" | "pushClientSecret" | "imagePullSecrets"> & { pullClientSecret?: string; pushClientSecret?: string; imagePullSecrets: Record<string, string> })
  | PlatformStackConfig;
