#!/usr/bin/env bash
# The Python tools the tests use as judges, pinned, in a virtual environment under
# target/pyenv: botocore (MediaConvert's official API model and parameter validator).
#
#   scripts/setup-python.sh        prints the environment's python on stdout
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BOTOCORE=1.44.8
env=target/pyenv
if [[ ! -x $env/bin/python ]]; then
  echo "setup-python: creating $env" >&2
  python3 -m venv "$env" >&2
fi
if ! "$env/bin/python" -c "import botocore, sys; sys.exit(botocore.__version__ != '$BOTOCORE')" 2>/dev/null; then
  echo "setup-python: installing botocore $BOTOCORE" >&2
  "$env/bin/pip" install --quiet --disable-pip-version-check "botocore==$BOTOCORE" >&2
fi
echo "$PWD/$env/bin/python"
