#!/usr/bin/env bash
# Helpers shared by the pipeline scripts in scripts/ci (sourced, not run).

# Repository root (this file lives in scripts/ci).
ci_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# stack_value STACK KEY [FIELD...]: prints a value of Pulumi.<STACK>.yaml, e.g.
# `stack_value dev dcs:registry name` or `stack_value dev dcs:image push mode`
# (each FIELD one level deeper); prints nothing when it is not set or is not a
# plain value. Reads YAML with the `yaml` package of the repository (after npm ci).
stack_value() {
  local file="$ci_root/Pulumi.$1.yaml"
  [[ -f "$file" ]] || { printf 'scripts/ci: no stack file %s\n' "$file" >&2; return 2; }
  (cd "$ci_root" && node -e '
    const yaml = require("yaml");
    const doc = yaml.parse(require("fs").readFileSync(process.argv[1], "utf8")) ?? {};
    let v = (doc.config ?? {})[process.argv[2]];
    for (const field of process.argv.slice(3)) v = v !== null && typeof v === "object" ? v[field] : undefined;
    if (v !== undefined && v !== null && typeof v !== "object") process.stdout.write(String(v));
  ' "$file" "${@:2}")
}

# ci_warning MESSAGE: a warning the CI system shows as an annotation.
ci_warning() {
  if [[ "${GITHUB_ACTIONS:-}" == "true" ]]; then
    printf '::warning::%s\n' "$1"
  elif [[ -n "${TF_BUILD:-}" ]]; then
    printf '##vso[task.logissue type=warning]%s\n' "$1"
  else
    printf 'warning: %s\n' "$1" >&2
  fi
}

# render_stack STACK OUT: writes the stack's offline rendering (what the program
# declares, `npm start -- --out`) to OUT. A job that has rendered the stack
# already passes that file in DCS_RENDERING and the scripts reuse it (a render
# takes about 2 s); a file of another stack is not reused. Fails, after the
# renderer's own error, when the stack cannot be rendered.
render_stack() {
  local stack="$1" out="$2"
  if [[ -n "${DCS_RENDERING:-}" && -f "$DCS_RENDERING" ]] &&
    [[ "$(node -e 'process.stdout.write(String(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).stack))' "$DCS_RENDERING" 2>/dev/null)" == "$stack" ]]; then
    cp "$DCS_RENDERING" "$out"
    return 0
  fi
  if ! (cd "$ci_root" && npm start --silent -- --stack "$stack" --out "$out" --quiet) >/dev/null; then
    printf 'scripts/ci: stack %s cannot be rendered offline; see the error above\n' "$stack" >&2
    return 1
  fi
}

# ci_set_env NAME VALUE: makes NAME=VALUE visible to the job's later steps
# (GitHub: $GITHUB_ENV; Azure DevOps: a pipeline variable, which later script
# steps see as an environment variable); prints `export` lines elsewhere.
ci_set_env() {
  if [[ "${GITHUB_ACTIONS:-}" == "true" && -n "${GITHUB_ENV:-}" ]]; then
    printf '%s=%s\n' "$1" "$2" >>"$GITHUB_ENV"
  elif [[ -n "${TF_BUILD:-}" ]]; then
    printf '##vso[task.setvariable variable=%s]%s\n' "$1" "$2"
  else
    printf 'export %s=%q\n' "$1" "$2"
  fi
}

# ci_set_secret NAME VALUE: as ci_set_env, for a credential: GitHub masks the
# value in every log first; Azure DevOps sets a secret variable (masked, and
# handed to a later script step only through its env:). Never printed elsewhere.
ci_set_secret() {
  if [[ "${GITHUB_ACTIONS:-}" == "true" && -n "${GITHUB_ENV:-}" ]]; then
    printf '::add-mask::%s\n' "$2"
    printf '%s=%s\n' "$1" "$2" >>"$GITHUB_ENV"
  elif [[ -n "${TF_BUILD:-}" ]]; then
    printf '##vso[task.setvariable variable=%s;issecret=true]%s\n' "$1" "$2"
  else
    printf '%s: set (not shown)\n' "$1" >&2
  fi
}

# ci_system: github, azure-devops, or local.
ci_system() {
  if [[ "${GITHUB_ACTIONS:-}" == "true" ]]; then
    echo github
  elif [[ -n "${TF_BUILD:-}" ]]; then
    echo azure-devops
  else
    echo local
  fi
}

# stack_has STACK KEY: succeeds when Pulumi.<STACK>.yaml sets KEY at all (a
# plain value or an encrypted `secure:` one).
stack_has() {
  local file="$ci_root/Pulumi.$1.yaml"
  [[ -f "$file" ]] || return 1
  (cd "$ci_root" && node -e '
    const doc = require("yaml").parse(require("fs").readFileSync(process.argv[1], "utf8")) ?? {};
    process.exit(Object.prototype.hasOwnProperty.call(doc.config ?? {}, process.argv[2]) ? 0 : 1);
  ' "$file" "$2")
}

# platform_stack_of STACK: the platform stack STACK reads through its
# StackReference, as its dcs:platform.stack names it (`<org>/<project>/<stack>`,
# or a bare `<stack>`); nothing for a stack that names none (a platform stack,
# or a team stack on its own, which names its workspace itself).
platform_stack_of() {
  stack_value "$1" dcs:platform stack
}

# stack_workspace STACK: the Databricks workspace STACK deploys into, as one
# line `url <workspace URL>` or `resourceId <Azure resource id>`:
#   - a team stack (dcs:platform.stack set) has no dcs:workspace of its own: the
#     last path segment of dcs:platform.stack names its platform stack, and
#     when Pulumi.<that>.yaml is in this repository its dcs:workspace (url,
#     else resourceId) is the answer: the file the platform stack deploys, so
#     known before anything is deployed, and what the team stack's
#     StackReference returns once it is. A platform stack kept outside this
#     repository answers with its deployed output instead,
#     `pulumi stack output workspaceUrl --stack <dcs:platform.stack>` (the
#     Pulumi CLI must reach that stack's backend, which is the team stack's);
#   - any other stack (a platform stack, a team stack on its own): its own
#     dcs:workspace, url first, then resourceId.
# Fails, saying what to set or to deploy first, when there is no workspace.
stack_workspace() {
  local stack="$1" from="$1" platform url resource_id err
  platform="$(platform_stack_of "$stack")" || return
  if [[ -n "$platform" ]]; then
    from="${platform##*/}"
    if [[ ! -f "$ci_root/Pulumi.$from.yaml" ]]; then
      err="$(mktemp)"
      url="$(cd "$ci_root" && pulumi stack output workspaceUrl --stack "$platform" 2>"$err")" || url=""
      if [[ -z "$url" ]]; then
        printf 'scripts/ci: stack %s runs in the workspace of platform stack %s (dcs:platform.stack), which is not in this repository and gives no workspaceUrl output (deploy it first, or log in to its backend): %s\n' \
          "$stack" "$platform" "$(head -c 300 "$err" | tr '\n' ' ')" >&2
        rm -f "$err"
        return 1
      fi
      rm -f "$err"
      printf 'url %s\n' "$url"
      return 0
    fi
  fi
  url="$(stack_value "$from" dcs:workspace url)" || return
  if [[ -n "$url" ]]; then
    printf 'url %s\n' "$url"
    return 0
  fi
  resource_id="$(stack_value "$from" dcs:workspace resourceId)" || return
  if [[ -n "$resource_id" ]]; then
    printf 'resourceId %s\n' "$resource_id"
    return 0
  fi
  if [[ "$from" != "$stack" ]]; then
    printf 'scripts/ci: Pulumi.%s.yaml, the platform stack of %s (dcs:platform.stack), names no workspace (dcs:workspace.url or .resourceId)\n' "$from" "$stack" >&2
  else
    printf 'scripts/ci: Pulumi.%s.yaml names no workspace (dcs:workspace.url or .resourceId) and no platform stack (dcs:platform.stack)\n' "$stack" >&2
  fi
  return 1
}

# use_stack_workspace STACK: points the Databricks CLI of the calling script at
# the stack's workspace (stack_workspace: for a team stack, the one its platform
# stack names): a URL becomes DATABRICKS_HOST; a workspace named by its resource
# id is given as DATABRICKS_AZURE_RESOURCE_ID, unless DATABRICKS_HOST is set
# already (databricks-auth.sh sets it in the pipelines). Authentication stays
# the job's: DATABRICKS_AUTH_TYPE and its credentials as databricks-auth.sh set
# them. Used by check-clusters.sh and run-smoke-job.sh. Fails, after
# stack_workspace's message, when the stack has no workspace.
use_stack_workspace() {
  local workspace
  workspace="$(stack_workspace "$1")" || return 1
  case "$workspace" in
    url\ *) export DATABRICKS_HOST="${workspace#url }" ;;
    *) [[ -n "${DATABRICKS_HOST:-}" ]] || export DATABRICKS_AZURE_RESOURCE_ID="${workspace#resourceId }" ;;
  esac
}

# backend_url STACK: the state backend of STACK: $PULUMI_BACKEND_URL with
# every `{platform}` replaced by the name of the stack's platform stack (the
# last segment of its dcs:platform.stack; its own name for a stack that names
# none) and every `{stack}` by the stack's own name, or https://api.pulumi.com
# when it is empty. A self-managed backend resolves a StackReference only
# within itself, so a team stack must share its platform stack's backend: in
# Azure Blob one container per workspace,
# azblob://pulumi-{platform}?storage_account=<account> (pulumi-platform-dev
# holds platform-dev and dev). `{stack}` (a container per stack) suits stacks
# that read no platform stack.
backend_url() {
  local url="${PULUMI_BACKEND_URL:-}" platform=""
  [[ -n "$url" ]] || url="https://api.pulumi.com"
  if [[ "$url" == *"{platform}"* ]]; then
    if [[ -f "$ci_root/Pulumi.$1.yaml" ]]; then platform="$(platform_stack_of "$1")" || return; fi
    platform="${platform##*/}"
    url="${url//\{platform\}/${platform:-$1}}"
  fi
  printf '%s\n' "${url//\{stack\}/$1}"
}

# load_images RENDERING: reads every image build of an offline rendering
# (scripts/ci/rendering.js images) into arrays, one entry per image, the default
# image first: image_name (default, gpu, ...), image_resource, image_repository,
# image_tag, image_context, image_dockerfile, image_platform, image_cache (its
# cacheFrom images, space-separated; empty without a cache), image_nargs; the
# build arguments of image i (KEY=VALUE, in key order) are
# image_args[image_args_from[i]] to the next image's. image_arg I KEY prints
# one of them. Returns 3, quietly, when the rendering declares no image; 1,
# after rendering.js's message, when a build cannot be read.
# shellcheck disable=SC2034 # the arrays are what the calling script reads
load_images() {
  local out err status=0 k=0 n i=0
  local -a fields
  out="$(mktemp)"
  err="$(mktemp)"
  node "$ci_root/scripts/ci/rendering.js" images "$1" >"$out" 2>"$err" || status=$?
  ((status == 0 || status == 3)) || cat "$err" >&2
  if ((status != 0)); then
    rm -f "$out" "$err"
    return "$status"
  fi
  mapfile -d '' -t fields <"$out"
  rm -f "$out" "$err"
  image_name=() image_resource=() image_repository=() image_tag=() image_context=() image_dockerfile=()
  image_platform=() image_cache=() image_nargs=() image_args_from=() image_args=()
  while ((k < ${#fields[@]})); do
    image_name[i]="${fields[k]}"
    image_resource[i]="${fields[k + 1]}"
    image_repository[i]="${fields[k + 2]}"
    image_tag[i]="${fields[k + 3]}"
    image_context[i]="${fields[k + 5]}"
    image_dockerfile[i]="${fields[k + 6]}"
    image_platform[i]="${fields[k + 7]}"
    image_cache[i]="${fields[k + 8]}"
    n="${fields[k + 9]}"
    image_nargs[i]="$n"
    image_args_from[i]="${#image_args[@]}"
    image_args+=("${fields[@]:k+10:n}")
    k=$((k + 10 + n))
    i=$((i + 1))
  done
}

# stack_images STACK: renders STACK offline (render_stack, into a temporary file
# removed afterwards) and reads its image builds into the arrays of
# load_images. Returns 3, quietly, when the stack declares no image (a platform
# stack); 1, after the renderer's or rendering.js's message, when the stack
# cannot be rendered or a build cannot be read.
stack_images() {
  local rendering status=0
  rendering="$(mktemp)"
  { render_stack "$1" "$rendering" && load_images "$rendering"; } || status=$?
  rm -f "$rendering"
  return "$status"
}

# registry_host NAME: the login server of the Azure Container Registry NAME,
# <NAME in lower case>.azurecr.io, as image references and BASE_IMAGE name it.
registry_host() {
  printf '%s.azurecr.io' "${1,,}"
}

# image_arg I KEY: the value of build argument KEY of image I (load_images);
# nothing when it has none.
image_arg() {
  local arg
  for arg in "${image_args[@]:${image_args_from[$1]}:${image_nargs[$1]}}"; do
    if [[ "$arg" == "$2="* ]]; then
      printf '%s' "${arg#"$2"=}"
      return 0
    fi
  done
}

# stack_builds_from_registry STACK: succeeds when an image of the stack builds on
# the base imported into the stack's registry: dcs:image.baseFromRegistry or
# dcs:images.<name>.baseFromRegistry is true for any <name>.
stack_builds_from_registry() {
  local file="$ci_root/Pulumi.$1.yaml"
  [[ -f "$file" ]] || return 1
  (cd "$ci_root" && node -e '
    const config = (require("yaml").parse(require("fs").readFileSync(process.argv[1], "utf8")) ?? {}).config ?? {};
    const named = config["dcs:images"] !== null && typeof config["dcs:images"] === "object" ? Object.values(config["dcs:images"]) : [];
    process.exit([config["dcs:image"], ...named].some((i) => i !== null && typeof i === "object" && i.baseFromRegistry === true) ? 0 : 1);
  ' "$file")
}
