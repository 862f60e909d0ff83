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

# backend_url STACK: the state backend of STACK: $PULUMI_BACKEND_URL with
# every `{stack}` replaced by the stack's name (one container per stack in
# Azure Blob: azblob://pulumi-{stack}?storage_account=<account>), or
# https://api.pulumi.com when it is empty.
backend_url() {
  local url="${PULUMI_BACKEND_URL:-}"
  [[ -n "$url" ]] || url="https://api.pulumi.com"
  printf '%s\n' "${url//\{stack\}/$1}"
}
