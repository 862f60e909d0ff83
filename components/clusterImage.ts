/**
 * ClusterImage: builds the cluster image from its build context for
 * linux/amd64, pushes it to the registry under a content-derived tag, and
 * exposes the immutable digest reference clusters boot from.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { childName, hashBuildContext, imageTag } from "./naming";

/** Databricks Container Services runs linux/amd64 images only. */
export const IMAGE_PLATFORM = "linux/amd64";

export interface ClusterImageArgs {
  /** Build context directory (the Dockerfile lives in it). */
  context: string;
  /** Registry host to push to, e.g. dcshydrodev.azurecr.io. */
  registryServer: pulumi.Input<string>;
  /** Repository inside the registry. Default: hydrology/dask. */
  repository?: string;
  /** databricksruntime/standard tag the image builds on (build argument RUNTIME_TAG), e.g. 16.4-LTS. */
  runtime: string;
  /** Source repository URL for the OCI source label. Default: none. */
  source?: string;
  /** Push credentials; when absent the runner's Docker credentials (`az acr login`) are used. */
  credentials?: { username: pulumi.Input<string>; password: pulumi.Input<string> };
}

/** The build arguments and tag for a context: pure, so the tag is predictable and testable. */
export function planImageBuild(args: Pick<ClusterImageArgs, "context" | "runtime" | "source">): { tag: string; contextHash: string; buildArgs: Record<string, string> } {
  const shaping: Record<string, string> = { RUNTIME_TAG: args.runtime, IMAGE_SOURCE: args.source ?? "" };
  const contextHash = hashBuildContext(args.context, shaping);
  const tag = imageTag(args.runtime, contextHash);
  return { tag, contextHash, buildArgs: { ...shaping, IMAGE_REVISION: contextHash, IMAGE_VERSION: tag } };
}

export class ClusterImage extends pulumi.ComponentResource {
  /** Immutable reference `<loginServer>/<repository>@sha256:<digest>`: what clusters boot from. */
  public readonly imageRef: pulumi.Output<string>;
  /** Content-derived tag, e.g. 16.4-lts-3f2a9c1b7d0e. */
  public readonly tag: pulumi.Output<string>;
  /** Tagged name `<loginServer>/<repository>:<tag>`. */
  public readonly imageName: pulumi.Output<string>;

  constructor(name: string, args: ClusterImageArgs, opts?: pulumi.ComponentResourceOptions) {
    const { context, registryServer, credentials } = args;
    const repository = args.repository ?? "hydrology/dask";
    const dockerfile = path.join(context, "Dockerfile");
    // Rejected before registration: nothing, not even this component, is declared.
    if (!fs.existsSync(dockerfile)) throw new Error(`ClusterImage "${name}": no Dockerfile in the build context ${context}`);
    const plan = planImageBuild(args);
    super("dcs:index:ClusterImage", name, {}, opts);

    const imageName = pulumi.interpolate`${registryServer}/${repository}:${plan.tag}`;
    const image = new docker.Image(
      childName(name, "image"),
      {
        imageName,
        // BuildKit: the Dockerfile bind-mounts the wheels stage instead of copying it.
        build: { context, dockerfile, platform: IMAGE_PLATFORM, args: plan.buildArgs, builderVersion: docker.types.enums.BuilderVersion.BuilderBuildKit },
        registry: credentials ? { server: registryServer, username: credentials.username, password: pulumi.secret(credentials.password) } : undefined,
        skipPush: false,
      },
      { parent: this },
    );

    this.imageRef = image.repoDigest;
    this.tag = pulumi.output(plan.tag);
    this.imageName = image.imageName;
    this.registerOutputs({ imageRef: this.imageRef, tag: this.tag, imageName: this.imageName });
  }
}
