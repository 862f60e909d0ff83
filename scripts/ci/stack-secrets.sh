#!/usr/bin/env bash
# Hands the stack the secrets a pipeline holds, before `pulumi preview`/`up`.
# A stack's secrets normally live encrypted in Pulumi.<stack>.yaml (set once
# with `pulumi config set --secret`); a pipeline may instead keep them in its
# own secret store and pass them in the environment:
#
#   DCS_PULL_CLIENT_SECRET  ->  dcs:pullClientSecret  (client secret of the pull identity)
#   DCS_PUSH_CLIENT_SECRET  ->  dcs:pushClientSecret  (push mode servicePrincipal)
#   DCS_IMAGE_PULL_SECRETS  ->  dcs:imagePullSecrets.<image>, for each <image> of
#                               dcs:images with a pullIdentity of its own and no
#                               secretReference (the client secret of that
#                               identity); a JSON object, {"<image>": "<client secret>", ...}
#
# Each one that is set is encrypted into the runner's copy of the stack file
# (never committed); unset ones are left alone, so the program's own config
# check names any secret still missing. Values go through stdin, never argv.
# An entry of DCS_IMAGE_PULL_SECRETS for an image that takes none (no such
# image, or one that pulls with dcs:pullIdentity or keeps its secret elsewhere)
# is named and left out: the stack's configuration would refuse it. Each value
# taken from it is masked first (GitHub: ::add-mask::, Azure DevOps:
# task.setsecret), as the pipeline masks only the object as a whole.
# An Azure DevOps macro left unexpanded because its variable is not defined,
# such as the literal "$(DCS_PULL_CLIENT_SECRET)", counts as unset.
#
# --preview (previews, the prod preview an approver sees, drift checks): the
# push secret is a deploy credential and never taken, even when the
# environment holds it. A stack in push mode servicePrincipal whose stack file
# does not hold dcs:pushClientSecret gets a placeholder instead, which changes
# nothing a preview shows: it is only the docker.Image registry password, and
# the Docker provider leaves registry username and password out of its diff
# (pulumi-docker provider/provider.go, diffUpdates: only `server` counts), and
# a preview neither builds nor pushes. The pull secrets (AcrPull only) are taken:
# the stack stores them in Databricks secrets, whose diff compares the value.
#
# A platform stack (dcs:kind: platform) holds no secret: it has no registry,
# no image and no pull secret, and its configuration refuses those keys, so
# nothing is set for it, even in a job (a preview, the drift check) whose
# environment holds the pull secret for the team stacks.
#
# Needs a logged-in Pulumi CLI (the stack's secrets provider encrypts).
#
# Usage: scripts/ci/stack-secrets.sh STACK [--preview]
set -euo pipefail
# shellcheck source=scripts/ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage='usage: scripts/ci/stack-secrets.sh STACK [--preview]'
if (($# < 1 || $# > 2)) || { (($# == 2)) && [[ "$2" != --preview ]]; }; then
  echo "$usage" >&2
  exit 2
fi
stack="$1"
preview=false
(($# == 1)) || preview=true
# Not a secret: what a preview encrypts into dcs:pushClientSecret when it has none.
placeholder="preview-placeholder-not-a-credential"

if [[ "$(stack_value "$stack" dcs:kind)" == platform ]]; then
  printf 'stack-secrets: %s is a platform stack (dcs:kind: platform), which takes no secrets; nothing to set\n' "$stack"
  exit 0
fi

set_secret() { # config key, value, what to say[, --path]
  pulumi config set --secret ${4:+"$4"} --stack "$stack" "$1" <<<"$2"
  printf 'stack-secrets: %s set from %s\n' "$1" "$3"
}
mask() { # a value about to be set, so that no log shows it
  if [[ "${GITHUB_ACTIONS:-}" == "true" ]]; then
    printf '::add-mask::%s\n' "$1"
  elif [[ -n "${TF_BUILD:-}" ]]; then
    printf '##vso[task.setsecret]%s\n' "$1"
  fi
}
set_from_env() { # config key, environment variable name
  local key="$1" var="$2"
  local value="${!var:-}"
  if [[ -n "$value" && "$value" != "\$($var)" ]]; then set_secret "$key" "$value" "$var"; fi
}

set_from_env dcs:pullClientSecret DCS_PULL_CLIENT_SECRET
if [[ "$preview" == false ]]; then
  set_from_env dcs:pushClientSecret DCS_PUSH_CLIENT_SECRET
elif [[ "$(stack_value "$stack" dcs:image push mode)" == servicePrincipal ]] && ! stack_has "$stack" dcs:pushClientSecret; then
  set_secret dcs:pushClientSecret "$placeholder" "a placeholder (previews never hold the push secret)"
fi

# The images' own pull secrets, from one JSON object. Node reads it from the
# environment and hands image names and values back NUL-separated through a
# pipe, ending with `done` (its absence: node failed, after saying why); no
# value is printed or written to a file.
if [[ -n "${DCS_IMAGE_PULL_SECRETS:-}" && "${DCS_IMAGE_PULL_SECRETS}" != "\$(DCS_IMAGE_PULL_SECRETS)" ]]; then
  # shellcheck disable=SC2016 # JavaScript, not shell
  mapfile -d '' -t pairs < <(cd "$ci_root" && node -e '
    const fs = require("fs");
    const say = (m) => process.stderr.write(`stack-secrets: ${m}\n`);
    let given;
    try {
      given = JSON.parse(process.env.DCS_IMAGE_PULL_SECRETS);
    } catch {
      say("DCS_IMAGE_PULL_SECRETS is not JSON; it must be an object {\"<image>\": \"<client secret>\", ...}");
      process.exit(1);
    }
    if (given === null || typeof given !== "object" || Array.isArray(given)) {
      say("DCS_IMAGE_PULL_SECRETS must be a JSON object {\"<image>\": \"<client secret>\", ...}");
      process.exit(1);
    }
    const config = (require("yaml").parse(fs.readFileSync(process.argv[1], "utf8")) ?? {}).config ?? {};
    const images = config["dcs:images"] !== null && typeof config["dcs:images"] === "object" ? config["dcs:images"] : {};
    const own = (i) => i !== null && typeof i === "object" && i.pullIdentity !== null && typeof i.pullIdentity === "object";
    const needs = Object.keys(images).filter((n) => own(images[n]) && images[n].pullIdentity.secretReference === undefined);
    const out = [];
    for (const [name, value] of Object.entries(given)) {
      if (!needs.includes(name)) {
        say(`DCS_IMAGE_PULL_SECRETS names image ${name}, which takes no pull secret of its own (${own(images[name]) ? "its pullIdentity names a secretReference" : images[name] === undefined ? "no such image in dcs:images" : "it pulls with dcs:pullIdentity"}); left out`);
      } else if (typeof value !== "string" || value === "" || value.includes("\0") || value.includes("\n")) {
        say(`DCS_IMAGE_PULL_SECRETS: the value for image ${name} is not a one-line string`);
        process.exit(1);
      } else {
        out.push(name, value);
      }
    }
    process.stdout.write([...out, "done"].map((f) => `${f}\0`).join(""));
  ' "$ci_root/Pulumi.$stack.yaml")
  if ((${#pairs[@]} == 0)) || [[ "${pairs[-1]}" != "done" ]]; then exit 1; fi
  unset 'pairs[-1]'
  for ((k = 0; k < ${#pairs[@]}; k += 2)); do
    mask "${pairs[k + 1]}"
    set_secret "dcs:imagePullSecrets.${pairs[k]}" "${pairs[k + 1]}" "DCS_IMAGE_PULL_SECRETS" --path
  done
fi
