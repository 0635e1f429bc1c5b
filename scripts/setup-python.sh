#!/usr/bin/env bash
# The Python tools the tests use as judges, pinned, in a virtual environment under
# target/pyenv: botocore (MediaConvert's official API model and parameter validator),
# boto3 (the real AWS clients) and moto's standalone S3 server; and the AWS CLI (v1, from
# PyPI) under target/awscli.
#
#   scripts/setup-python.sh        prints the environment's python on stdout
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BOTOCORE=1.44.8
MOTO=5.1.19
env=target/pyenv
if [[ ! -x $env/bin/python ]]; then
  echo "setup-python: creating $env" >&2
  python3 -m venv "$env" >&2
fi
if ! "$env/bin/python" -c "import botocore, moto, sys; sys.exit(botocore.__version__ != '$BOTOCORE' or moto.__version__ != '$MOTO')" 2>/dev/null; then
  echo "setup-python: installing botocore $BOTOCORE, boto3 and moto $MOTO" >&2
  "$env/bin/pip" install --quiet --disable-pip-version-check \
    "botocore==$BOTOCORE" "boto3==$BOTOCORE" "moto[server]==$MOTO" >&2
fi
# The AWS CLI, in a venv of its own: each awscli release pins its own botocore, which
# must not move the one above.
AWSCLI=1.46.3
cli=target/awscli
if ! "$cli/bin/aws" --version 2>&1 | grep -q "aws-cli/$AWSCLI "; then
  echo "setup-python: installing awscli $AWSCLI in $cli" >&2
  python3 -m venv "$cli" >&2
  "$cli/bin/pip" install --quiet --disable-pip-version-check "awscli==$AWSCLI" >&2
fi
echo "$PWD/$env/bin/python"
