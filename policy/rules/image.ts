/** Rules for the cluster image build. */
import { isRecord, read, UNKNOWN } from "../reading";
import { IMAGE, type Rule } from "../types";

/** The build platform Databricks Container Services runs (no arm64). */
export const CONTAINER_PLATFORM = "linux/amd64";

export const imagePlatformLinuxAmd64: Rule = (type, props, { name, undefinedMeans }) => {
  if (type !== IMAGE) return [];
  const build = read(props, "build", undefinedMeans);
  if (!isRecord(build)) return []; // no build here (or not known yet)
  const platform = read(props, "build.platform", undefinedMeans);
  if (platform === UNKNOWN || platform === CONTAINER_PLATFORM) return [];
  const given = platform === undefined ? "does not pin a build platform (it builds for the builder's own, arm64 on Apple silicon)" : `builds for ${String(platform)}`;
  return [`image ${name} ${given}; Databricks runs ${CONTAINER_PLATFORM} images only: set build.platform: ${CONTAINER_PLATFORM}.`];
};

