/**
 * The stand-ins and the sandbox of the tests of scripts/ci (test/ci-registry,
 * ci-build, ci-clusters, ci-smoke-job, ci-preview and ci-lib): fake `pulumi`,
 * `az`, `docker` and `databricks` commands that log every call and answer from
 * files the test writes; a sandbox per test file with those fakes, the scripts
 * run against them, renderings, and temporary stack files made from committed
 * ones. (test/ci-images.test.ts has stand-ins of its own.)
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll } from "vitest";
import { installFakes, renderedFile, renderWithCli, runCiScript } from "./ci-fakes";
import { ROOT } from "./record";

export type Obj = Record<string, unknown>;
export interface Resource {
  urn: string;
  type: string;
  name: string;
  parent?: string;
  dependencies?: string[];
  inputs: Obj;
}
export interface Rendering {
  stack: string;
  project: string;
  resources: Resource[];
}

export const TYPES = {
  registry: "azure-native:containerregistry:Registry",
  group: "azure-native:resources:ResourceGroup",
  image: "docker:index/image:Image",
  cluster: "databricks:index/cluster:Cluster",
};

/** The secrets a cluster's spec carries (a registry password, environment values): never printed. */
export const SECRETS = ["pw-SECRET-0c1d", "env-SECRET-77ab", "attr-SECRET-9f3e"];

/** A stack file's text without any committed `baseFromRegistry: true` (and its comment): every base from Docker Hub. */
export const withoutBaseFromRegistry = (t: string) => t.replace(/( +# [^\n]*\n)*( +)baseFromRegistry: true\n/g, "");

// ---------------------------------------------------------------------------
// Fakes. Every fake appends one line per call to $FAKE_DIR/calls: its name and
// its arguments, tab-separated, so tests see the order across commands.

export const FAKE_PULUMI = `#!/usr/bin/env bash
(IFS=$'\\t'; printf 'pulumi\\t%s\\n' "$*") >>"$FAKE_DIR/calls"
case "$1" in
  stack)
    if [[ -n "\${FAKE_OUTPUTS_FAIL:-}" ]]; then echo "error: no stack named '$5' found" >&2; exit 255; fi
    # \`pulumi stack output NAME\` of an output the stack lacks: the Pulumi CLI's own error.
    if [[ -n "\${FAKE_NO_OUTPUT:-}" ]]; then echo "error: current stack does not have output property '$3'" >&2; exit 255; fi
    cat "$FAKE_DIR/outputs.json" ;;
  up) exit "\${FAKE_UP_STATUS:-0}" ;;
  preview)
    cat "$FAKE_DIR/preview.json" 2>/dev/null
    echo "preview stderr" >&2
    exit "\${FAKE_PREVIEW_STATUS:-0}" ;;
esac
`;

export const FAKE_AZ = `#!/usr/bin/env bash
(IFS=$'\\t'; printf 'az\\t%s\\n' "$*") >>"$FAKE_DIR/calls"
case "$1 $2" in
  "acr show") exit "\${FAKE_ACR_SHOW_STATUS:-0}" ;;
  "acr repository")
    [[ -f "$FAKE_DIR/repo-digest" ]] || { echo "ERROR: manifest unknown" >&2; exit 1; }
    cat "$FAKE_DIR/repo-digest" ;;
  "acr import")
    [[ -z "\${FAKE_IMPORTED_DIGEST:-}" ]] || echo "$FAKE_IMPORTED_DIGEST" >"$FAKE_DIR/repo-digest" ;;
esac
`;

// docker: also writes each call's arguments NUL-separated to $FAKE_DIR/docker.argv
// (one call per record, records end with a newline), so tests compare them byte for byte.
export const FAKE_DOCKER = `#!/usr/bin/env bash
(IFS=$'\\t'; printf 'docker\\t%s\\n' "$*") >>"$FAKE_DIR/calls"
{ printf '%s\\0' "$@"; printf '\\n'; } >>"$FAKE_DIR/docker.argv"
case "$1" in
  build) exit "\${FAKE_BUILD_STATUS:-0}" ;;
  image)
    case "$*" in
      *Architecture*) echo "\${FAKE_PLATFORM:-linux/amd64}" ;;
      *'"solution"'*) echo xkp ;;
      *image.title*) echo "stand-in" ;;
      *dcs.cuda.version*) echo "\${FAKE_CUDA_LABEL:-12.6.3}" ;;
      *) echo "" ;;
    esac ;;
esac
exit 0
`;

// databricks: \`clusters get ID\` prints the next line of $FAKE_DIR/<ID>.seq (the
// last one again once they are used up); \`api post .../clusters/events\` prints
// $FAKE_DIR/<ID>.events. \`jobs run-now JOB_ID\` prints $FAKE_DIR/run-now.json
// (fails with $FAKE_RUN_NOW_ERROR); \`jobs get-run RUN_ID\` the next line of
// $FAKE_DIR/run-<RUN_ID>.seq (fails while $FAKE_GET_RUN_ERROR is set);
// \`jobs get-run-output RUN_ID\` $FAKE_DIR/output-<RUN_ID>.json (fails without it);
// \`jobs cancel-run\` succeeds. Records the workspace it was given.
export const FAKE_DATABRICKS = `#!/usr/bin/env bash
(IFS=$'\\t'; printf 'databricks\\t%s\\thost=%s\\tresource=%s\\tauth=%s\\n' "$*" "\${DATABRICKS_HOST:-}" "\${DATABRICKS_AZURE_RESOURCE_ID:-}" "\${DATABRICKS_AUTH_TYPE:-}") >>"$FAKE_DIR/calls"
# The next line of the file $1, counting in $1.n; the last one again once they are used up.
next_line() {
  local n total line
  n="$(cat "$1.n" 2>/dev/null || echo 0)"
  total="$(wc -l <"$1")"
  line=$((n < total ? n + 1 : total))
  echo $((n + 1)) >"$1.n"
  sed -n "\${line}p" "$1"
}
case "$1 $2" in
  "clusters get")
    seq="$FAKE_DIR/$3.seq"
    [[ -f "$seq" ]] || { echo "Error: Cluster $3 does not exist" >&2; exit 1; }
    next_line "$seq" ;;
  "api post")
    [[ "$*" =~ \\"cluster_id\\":\\"([^\\"]+)\\" ]] || exit 2
    cat "$FAKE_DIR/\${BASH_REMATCH[1]}.events" 2>/dev/null || echo '{"events":[]}' ;;
  "jobs run-now")
    if [[ -n "\${FAKE_RUN_NOW_ERROR:-}" ]]; then echo "$FAKE_RUN_NOW_ERROR" >&2; exit 1; fi
    cat "$FAKE_DIR/run-now.json" ;;
  "jobs get-run")
    if [[ -n "\${FAKE_GET_RUN_ERROR:-}" ]]; then echo "$FAKE_GET_RUN_ERROR" >&2; exit 1; fi
    seq="$FAKE_DIR/run-$3.seq"
    [[ -f "$seq" ]] || { echo "Error: Run $3 does not exist." >&2; exit 1; }
    next_line "$seq" ;;
  "jobs get-run-output")
    cat "$FAKE_DIR/output-$3.json" 2>/dev/null || { echo "Error: Run output of $3 is not available." >&2; exit 1; } ;;
  "jobs cancel-run") ;;
  *) exit 3 ;;
esac
`;

/**
 * A sandbox for one test file, removed after it (`prefix` names its folder in
 * the system's temporary folder), with: `fakes`, a fresh folder of the
 * stand-ins and a log of their calls; `runScript`, a script of scripts/ci run
 * against them; `render` and `renderedFile`, a stack rendered as the scripts
 * render it (anew, or once per sandbox); `tmpStack`, a temporary
 * Pulumi.<name>.yaml made from a committed one, removed after the file.
 */
export function ciSandbox(prefix: string) {
  const sandbox = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  afterAll(() => fs.rmSync(sandbox, { recursive: true, force: true }));
  const tmpStacks: string[] = [];
  afterAll(() => tmpStacks.forEach((f) => fs.rmSync(f, { force: true })));
  return {
    sandbox,
    fakes: () => installFakes(sandbox, { pulumi: FAKE_PULUMI, az: FAKE_AZ, docker: FAKE_DOCKER, databricks: FAKE_DATABRICKS }),
    runScript: (script: string, args: string[], dir: string, env: Record<string, string> = {}) => runCiScript(sandbox, script, args, dir, env),
    render: (stack: string) => renderWithCli(sandbox, stack),
    renderedFile: (stack: string) => renderedFile(sandbox, stack),
    tmpStack(from: string, suffix: string, edit: (text: string) => string): string {
      const name = `tmp-${process.pid}-ci-${suffix}`;
      const file = path.join(ROOT, `Pulumi.${name}.yaml`);
      const text = edit(fs.readFileSync(path.join(ROOT, `Pulumi.${from}.yaml`), "utf8")).replace(/^config:\n/m, `config:\n  dcs:environment: ${from}\n`);
      fs.writeFileSync(file, text);
      tmpStacks.push(file);
      return name;
    },
  };
}
