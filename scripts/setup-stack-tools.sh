#!/usr/bin/env bash
# The judges of stack.json, pinned, each in a virtual environment of its own under
# target/ (checkov pins an old botocore that would break the one that validates
# MediaConvert jobs in target/pyenv):
#   target/cfnlint/bin/cfn-lint   AWS's CloudFormation linter
#   target/checkov/bin/checkov    Bridgecrew's policy checks
#
#   scripts/setup-stack-tools.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CFN_LINT=1.58.0
CHECKOV=3.3.30

install() { # VENV PACKAGE VERSION IMPORT
  local env=target/$1
  if [[ ! -x $env/bin/python ]]; then
    echo "setup-stack-tools: creating $env" >&2
    python3 -m venv "$env" >&2
  fi
  if ! "$env/bin/pip" show "$2" 2>/dev/null | grep -qx "Version: $3"; then
    echo "setup-stack-tools: installing $2 $3" >&2
    "$env/bin/pip" install --quiet --disable-pip-version-check "$2==$3" >&2
  fi
}
install cfnlint cfn-lint "$CFN_LINT"
install checkov checkov "$CHECKOV"
