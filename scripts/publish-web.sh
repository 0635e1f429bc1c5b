#!/usr/bin/env bash
# Publishes the web page (web/ and its pinned players) to a deployed stack's web bucket,
# laid out as the web distribution serves it: web/index.html, web/play.html, web/*.js,
# web/style.css, and web/config.json naming the stack's ApiUrl. Usage: scripts/publish-web.sh STACK_NAME [REGION]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
stack="${1:?usage: scripts/publish-web.sh STACK_NAME [REGION]}"
region="${2:-${AWS_REGION:-eu-west-3}}"
command -v aws >/dev/null || { echo "publish-web: the AWS CLI (aws) is needed" >&2; exit 1; }
for f in web/vendor/hls.min.js web/vendor/dash.all.min.js; do
  [ -s "$f" ] || { echo "publish-web: $f is missing: run web/fetch-players.sh" >&2; exit 1; }
done
output() {
  aws cloudformation describe-stacks --stack-name "$stack" --region "$region" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}
bucket="$(output WebBucketName)"
[ -n "$bucket" ] && [ "$bucket" != None ] || { echo "publish-web: stack $stack has no WebBucketName output" >&2; exit 1; }
put() { # FILE KEY CONTENT-TYPE
  aws s3 cp "$1" "s3://$bucket/$2" --region "$region" --content-type "$3" \
    --cache-control "max-age=60" --only-show-errors
}
api_url="$(output ApiUrl)"
[ -n "$api_url" ] && [ "$api_url" != None ] || { echo "publish-web: stack $stack has no ApiUrl output" >&2; exit 1; }
config="$(mktemp)"
trap 'rm -f "$config"' EXIT
printf '{"apiUrl":"%s"}\n' "$api_url" > "$config"
put "$config" web/config.json "application/json"
put web/index.html web/index.html "text/html; charset=utf-8"
put web/play.html web/play.html "text/html; charset=utf-8"
put web/app.js web/app.js "text/javascript; charset=utf-8"
put web/play.js web/play.js "text/javascript; charset=utf-8"
put web/style.css web/style.css "text/css; charset=utf-8"
put web/vendor/hls.min.js web/hls.min.js "text/javascript"
put web/vendor/dash.all.min.js web/dash.all.min.js "text/javascript"
echo "published to s3://$bucket/web/; open $(output WebUrl)#token=\$(aws secretsmanager get-secret-value --secret-id $(output ApiTokenSecretArn) --query SecretString --output text)"
