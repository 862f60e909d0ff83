#!/usr/bin/env bash
# The image smoke test lives beside what it checks: infra/image/smoke-test.sh.
# This forwarder keeps callers of the old path (the deploy pipelines) working
# until they call the new one; then it can go.
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/image/smoke-test.sh" "$@"
