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
