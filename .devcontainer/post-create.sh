#!/usr/bin/env bash
# One step to a working contributor setup: the Pulumi CLI, the tools the tests
# run for real (Dask, shellcheck, yamllint), and the npm packages.
set -euo pipefail
sudo apt-get update
sudo apt-get install -y --no-install-recommends python3-distributed python3-numpy shellcheck yamllint
curl -fsSL https://get.pulumi.com | sh -s -- --silent
# shellcheck disable=SC2016 # expanded later, by the login shell
echo 'export PATH="$HOME/.pulumi/bin:$PATH"' >>"$HOME/.bashrc"
npm ci
echo "ready: npm test runs the suite, npm start renders the dev stack, pulumi is on PATH in new shells"
