/**
 * ClusterImage: builds the cluster image from its build context for
 * linux/amd64, pushes it to the registry under a content-derived tag, and
 * exposes the reference clusters boot from (digest by default, or the tag).
 *
 * Later deployments must not rebuild for nothing. The Docker provider compares
 * every input of `docker.Image` as text and rebuilds and pushes on any
 * difference (pulumi-docker provider/provider.go `Diff`; only registry
 * username and password are exempt), and it resolves relative paths from its
 * working directory, the project. So the context and Dockerfile are given
 * relative to the project, never as absolute paths that differ per checkout,
 * and the build arguments are exactly what shapes the image.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { hashBuildContext } from "./buildContext";
import { childName, imageTag } from "./naming";

/** Databricks Container Services runs linux/amd64 images only. */
export const IMAGE_PLATFORM = "linux/amd64";

/**
 * Tag of the image a build takes its cache from. The pipeline points it at the
 * image it just pushed; it is not a content tag, so the purge never removes it.
 */
export const BUILD_CACHE_TAG = "buildcache";

/** Build arguments the component sets itself; an image's further buildArgs may not name them. */
export const PROGRAM_BUILD_ARGS: readonly string[] = ["BASE_IMAGE", "RUNTIME_TAG", "CUDA_VERSION", "PYTHON_VERSION", "IMAGE_SOURCE", "IMAGE_REVISION", "IMAGE_VERSION", "BUILDKIT_INLINE_CACHE"];

/** The Databricks base image the build starts from. */
export const BASE_REPOSITORY = "databricksruntime/standard";

export interface ClusterImageArgs {
  /** Build context, relative to the project root (the Dockerfile lives in it). */
  context: string;
  /** Project root: where `pulumi up` runs and relative paths start. Default: the process's working directory. */
  projectRoot?: string;
  /** Registry host to push to, e.g. dcshydrodev.azurecr.io. */
  registryServer: pulumi.Input<string>;
  /** Repository inside the registry. Default: hydrology/dask. */
  repository?: string;
  /** databricksruntime/standard tag the image builds on (build argument RUNTIME_TAG), e.g. 16.4-LTS. */
  runtime: string;
  /** The base as `<repository>:<tag>` (build argument BASE_IMAGE). Default: databricksruntime/standard:<runtime>; a GPU image's is nvidia/cuda (gpuBase). */
  base?: string;
  /** A GPU image: the CUDA release (build argument CUDA_VERSION) and the runtime's Python (PYTHON_VERSION). Default: none. */
  gpu?: { cuda: string; python: string };
  /** Further build arguments the Dockerfile reads; they shape the image, so they enter the tag. Default: none. */
  buildArgs?: Record<string, string>;
  /** Digest pinning the base, `sha256:...` (build argument BASE_IMAGE becomes `<base>@<digest>`). Default: the tag alone. */
  baseDigest?: string;
  /** Registry host the base is pulled from, where it was imported (`<host>/databricksruntime/standard`). Default: Docker Hub. */
  baseRegistry?: string;
  /** Image whose inline build cache the build reuses (a previous build of this image). Default: none. */
  cacheFrom?: string;
  /** Source repository URL for the OCI source label. Default: none. */
  source?: string;
  /** Push credentials; when absent the runner's Docker credentials (`az acr login`) are used. */
  credentials?: { username: pulumi.Input<string>; password: pulumi.Input<string> };
  /** What the push waits for (the AcrPush grant, applied). Default: nothing. */
  dependsOn?: pulumi.Resource[];
}

/** What the build receives: paths relative to the project, the tag, and the build arguments. Pure. */
export interface ImageBuildPlan {
  /** Build context relative to the project, POSIX separators. */
  context: string;
  /** Dockerfile relative to the project. */
  dockerfile: string;
  /** Content tag, e.g. 16.4-lts-3f2a9c1b7d0e. */
  tag: string;
  /** The full context hash. */
  contextHash: string;
  /** Build arguments, as the Dockerfile reads them. */
  buildArgs: Record<string, string>;
}

/** The base image reference for a runtime tag (or another base), an optional digest and an optional registry it was imported into. */
export function baseImage(runtime: string, baseDigest?: string, baseRegistry?: string, base = `${BASE_REPOSITORY}:${runtime}`): string {
  return `${baseRegistry ? `${baseRegistry}/` : ""}${base}${baseDigest ? `@${baseDigest}` : ""}`;
}

/**
 * The build argument that makes BuildKit write its cache metadata into the
 * pushed image, so a later build on another runner can take layers from it
 * (`cacheFrom`). It changes no layer, so it stays out of the tag.
 */
export const INLINE_CACHE_ARG = { BUILDKIT_INLINE_CACHE: "1" } as const;

/** A project-relative POSIX path for `p` (absolute or relative to the root). */
export function projectRelative(p: string, root: string): string {
  const rel = path.relative(root, path.resolve(root, p)).split(path.sep).join("/");
  return rel === "" ? "." : rel;
}

/** The build plan for a context: the tag is predictable and testable. */
export function planImageBuild(args: Pick<ClusterImageArgs, "context" | "runtime" | "source" | "baseDigest" | "baseRegistry" | "projectRoot" | "base" | "gpu" | "buildArgs">): ImageBuildPlan {
  const root = args.projectRoot ?? process.cwd();
  const context = projectRelative(args.context, root);
  // Arguments that shape the image enter the hash; the labels derived from the hash cannot.
  // A CPU image's hash input is what it has always been, so its tag does not move.
  const shaping: Record<string, string> = {
    ...(args.buildArgs ?? {}),
    RUNTIME_TAG: args.runtime,
    BASE_IMAGE: baseImage(args.runtime, args.baseDigest, args.baseRegistry, args.base),
    IMAGE_SOURCE: args.source ?? "",
    ...(args.gpu ? { CUDA_VERSION: args.gpu.cuda, PYTHON_VERSION: args.gpu.python } : {}),
  };
  const contextHash = hashBuildContext(path.resolve(root, context), shaping, root);
  const tag = imageTag(args.runtime, contextHash);
  return { context, dockerfile: `${context}/Dockerfile`, tag, contextHash, buildArgs: { ...shaping, IMAGE_REVISION: contextHash, IMAGE_VERSION: tag } };
}

export class ClusterImage extends pulumi.ComponentResource {
  /** Immutable reference `<loginServer>/<repository>@sha256:<digest>`. */
  public readonly digestRef: pulumi.Output<string>;
  /** Content-derived tag, e.g. 16.4-lts-3f2a9c1b7d0e. */
  public readonly tag: pulumi.Output<string>;
  /** Tagged name `<loginServer>/<repository>:<tag>`, available once the push is done. */
  public readonly imageName: pulumi.Output<string>;

  constructor(name: string, args: ClusterImageArgs, opts?: pulumi.ComponentResourceOptions) {
    const { registryServer, credentials } = args;
    const root = args.projectRoot ?? process.cwd();
    const repository = args.repository ?? "hydrology/dask";
    const taken = Object.keys(args.buildArgs ?? {}).filter((k) => PROGRAM_BUILD_ARGS.includes(k));
    if (taken.length > 0) throw new Error(`ClusterImage "${name}": build arguments ${taken.join(", ")} are set by the component`);
    // Rejected before registration: nothing, not even this component, is declared.
    if (!fs.existsSync(path.resolve(root, args.context, "Dockerfile"))) throw new Error(`ClusterImage "${name}": no Dockerfile in the build context ${args.context}`);
    const plan = planImageBuild(args);
    super("dcs:index:ClusterImage", name, {}, opts);

    const image = new docker.Image(
      childName(name, "image"),
      {
        imageName: pulumi.interpolate`${registryServer}/${repository}:${plan.tag}`,
        // BuildKit: the Dockerfile bind-mounts the wheels stage instead of copying it.
        build: {
          context: plan.context,
          dockerfile: plan.dockerfile,
          platform: IMAGE_PLATFORM,
          args: args.cacheFrom ? { ...plan.buildArgs, ...INLINE_CACHE_ARG } : plan.buildArgs,
          // A missing cache image is not an error: the provider logs it and builds without (pulumi-docker provider/image.go).
          cacheFrom: args.cacheFrom ? { images: [args.cacheFrom] } : undefined,
          builderVersion: docker.types.enums.BuilderVersion.BuilderBuildKit,
        },
        registry: credentials ? { server: registryServer, username: credentials.username, password: pulumi.secret(credentials.password) } : undefined,
        skipPush: false,
      },
      { parent: this, dependsOn: args.dependsOn ?? [] },
    );

    this.digestRef = image.repoDigest;
    this.tag = pulumi.output(plan.tag);
    // The tagged name, resolved only after the push (so a cluster that uses it waits for the image).
    this.imageName = pulumi.all([image.repoDigest, image.imageName]).apply(([, n]) => n);
    this.registerOutputs({ digestRef: this.digestRef, tag: this.tag, imageName: this.imageName });
  }
}
