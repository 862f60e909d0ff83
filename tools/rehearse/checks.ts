/**
 * What Databricks Container Services requires of an image, checked before a
 * rehearsal launches one. Pure: the caller supplies `docker image inspect`'s
 * answer and the output of PROBE_SCRIPT run inside the image.
 *
 * Sources:
 *   - linux/amd64 only, /databricks/python3 with its pip, bash: the Databricks
 *     docs ("Customize containers with Databricks Container Services") and the
 *     images of databricks/containers (ubuntu/minimal installs bash, iproute2,
 *     sudo, coreutils, procps and a JDK; ubuntu/python creates the virtualenv
 *     /databricks/python3); the project's GUIDE ("Facts we paid for").
 *   - size: databricks/containers issue #142 ("Cluster timeouts for large
 *     images", 2023): a 7 GB image "plus a few things" at about 7.8 GB
 *     sometimes starts a cluster and sometimes fails with "Container setup has
 *     timed out"; the download timeout is not adjustable. The limit is the
 *     lower figure, 7 GB, as `docker image inspect` reports the size
 *     (uncompressed, decimal GB).
 */

/** Refuse images above this many bytes (7 GB): see databricks/containers issue #142. */
export const DEFAULT_MAX_IMAGE_BYTES = 7_000_000_000;

/** Where the Databricks runtime expects the image's Python. */
export const DATABRICKS_PYTHON = "/databricks/python3/bin/python";

/** The fields of `docker image inspect` the checks read. */
export interface ImageFacts {
  Architecture: string;
  Os: string;
  /** Bytes, uncompressed. */
  Size: number;
}

/** What the probe found inside the image. */
export interface ProbeFacts {
  /** The probe ran: bash started as the container's entrypoint. */
  bash: boolean;
  /** Version of /databricks/python3/bin/python, if it runs. */
  python?: string;
  /** `python -m pip --version` works. */
  pip: boolean;
  /** /databricks/python3/bin/pip exists. */
  pipExecutable: boolean;
  /** Commands of databricksruntime/minimal found on PATH (java, ip, sudo, ps). */
  commands: Record<string, boolean>;
  /** What docker said when bash could not start. */
  startError?: string;
}

export interface CheckResult {
  /** Reasons Databricks would not start the image: the rehearsal stops. */
  problems: string[];
  /** Worth knowing, not fatal for the rehearsal. */
  notes: string[];
}

/**
 * Run with `--entrypoint /bin/bash` and `-c`: prints key=value lines. Only
 * bash builtins and the image's own Python; no network.
 */
export const PROBE_SCRIPT = [
  `py=${DATABRICKS_PYTHON}`,
  `if [[ -x "$py" ]] && v="$("$py" -c 'import sys; print(sys.version.split()[0])' 2>/dev/null)"; then echo "python=$v"; else echo "python="; fi`,
  `if [[ -x "$py" ]] && "$py" -m pip --version >/dev/null 2>&1; then echo pip=yes; else echo pip=no; fi`,
  `if [[ -x /databricks/python3/bin/pip ]]; then echo pip_executable=yes; else echo pip_executable=no; fi`,
  `for c in java ip sudo ps; do if command -v "$c" >/dev/null 2>&1; then echo "command.$c=yes"; else echo "command.$c=no"; fi; done`,
].join("\n");

/** Parses PROBE_SCRIPT's output. */
export function parseProbe(stdout: string): ProbeFacts {
  const kv = new Map<string, string>();
  for (const line of stdout.split("\n")) {
    const i = line.indexOf("=");
    if (i > 0) kv.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  const commands: Record<string, boolean> = {};
  for (const [k, v] of kv) if (k.startsWith("command.")) commands[k.slice("command.".length)] = v === "yes";
  return { bash: true, python: kv.get("python") || undefined, pip: kv.get("pip") === "yes", pipExecutable: kv.get("pip_executable") === "yes", commands };
}

const gb = (bytes: number) => `${(bytes / 1e9).toFixed(2)} GB`;

/** True when the image can run here at all (the probe needs it). */
export function isAmd64Linux(facts: ImageFacts): boolean {
  return facts.Os === "linux" && facts.Architecture === "amd64";
}

/** Judges an image. `probe` is absent when the platform already rules it out. */
export function checkImage(facts: ImageFacts, probe: ProbeFacts | undefined, maxBytes = DEFAULT_MAX_IMAGE_BYTES): CheckResult {
  const problems: string[] = [];
  const notes: string[] = [];
  if (!isAmd64Linux(facts)) {
    problems.push(`the image is ${facts.Os}/${facts.Architecture}: Databricks runs linux/amd64 images only (build with --platform linux/amd64)`);
  }
  if (facts.Size > maxBytes) {
    problems.push(
      `the image is ${gb(facts.Size)} (uncompressed), above the ${gb(maxBytes)} limit: images of 7-7.8 GB time out at cluster start with "Container setup has timed out" (databricks/containers issue #142); make it smaller`,
    );
  }
  if (probe) {
    if (!probe.bash) {
      problems.push(`bash does not start in the image (${probe.startError ?? "no /bin/bash"}): Databricks runs init scripts with bash, and its base images ship it`);
    } else {
      if (!probe.python) problems.push(`${DATABRICKS_PYTHON} is missing or does not run: Databricks runs Python from the virtualenv /databricks/python3 (build on databricksruntime/standard or create it)`);
      else if (!probe.pip) problems.push(`${DATABRICKS_PYTHON} has no pip (python -m pip fails): Databricks installs libraries with the virtualenv's pip`);
      if (probe.python && !probe.pipExecutable) notes.push("/databricks/python3/bin/pip is missing (python -m pip works)");
      const missing = Object.entries(probe.commands).filter(([, found]) => !found).map(([c]) => c);
      if (missing.length > 0) {
        notes.push(`not on PATH: ${missing.join(", ")} (databricksruntime/minimal installs a JDK, iproute2, sudo and procps, which a real cluster's runtime uses; the rehearsal does not need them)`);
      }
    }
  }
  return { problems, notes };
}
