#!/usr/bin/env bash
# Fetch the third-party JavaScript the book's HTML needs, from the npm registry, into book/_vendor/.
#
#   MathJax 3.2.2                       -> book/_vendor/mathjax/  (tex-mml-chtml.js + woff-v2 fonts)
#   @jupyter-widgets/html-manager 1.0.6 -> book/_vendor/widgets/  (embed-amd.js + chunks + fonts)
#   requirejs 2.3.4                     -> book/_vendor/widgets/require.js
#
# These are the versions Sphinx 7.4 and myst-nb 1.4 load from CDNs by default; serving them from
# the site itself makes math and widgets render with no network (checked in headless Chromium).
# The folder is git-ignored (it also carries its own .gitignore): third-party JavaScript is not
# committed. Each tarball is checked against the sha512 recorded below.
#
# Usage: bash scripts/vendor_js.sh [--force]
#   Does nothing when book/_vendor/ already holds these versions, unless --force is given.
#   Needs Node.js/npm and access to the npm registry (npm's own configuration is respected).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/book/_vendor"
STAMP="$DEST/VENDORED.txt"

MATHJAX=mathjax@3.2.2
WIDGETS=@jupyter-widgets/html-manager@1.0.6
REQUIREJS=requirejs@2.3.4
declare -A SHA512=(
  [mathjax-3.2.2.tgz]="Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw=="
  [jupyter-widgets-html-manager-1.0.6.tgz]="+Mn+Ra8wyIHrYaUpfmf9A3dsLkt/NuwzPQN8sthdxBD35VV5cOJbpmgMhNR27n/rmP3mKyEe0PWCJrtZrXTXDQ=="
  [requirejs-2.3.4.tgz]="qPD5gRrj6kGQ0ZySAJgqbArkaDqPMbQIT0zSZDkIv1mfA17w/tR2Faq5l2qqRf2CdQx6FWln9nUrgd2UDzb19A=="
)
WANT="$MATHJAX $WIDGETS $REQUIREJS"

if [[ "${1:-}" != "--force" && -f "$STAMP" ]] && grep -qxF "packages: $WANT" "$STAMP" \
   && [[ -f "$DEST/mathjax/tex-mml-chtml.js" && -f "$DEST/widgets/embed-amd.js" && -f "$DEST/widgets/require.js" ]]; then
  echo "vendor_js: book/_vendor already holds $WANT (use --force to fetch again)"
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "vendor_js: npm not found. Install Node.js/npm (Debian: apt-get install -y npm), or build" >&2
  echo "vendor_js: without it: the book then loads MathJax and widget JavaScript from CDNs." >&2
  exit 1
fi

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

echo "vendor_js: npm pack $WANT"
(cd "$TMP" && npm pack --silent $WANT >/dev/null)

sha512_b64() { python3 -c 'import base64,hashlib,sys; print(base64.b64encode(hashlib.sha512(open(sys.argv[1],"rb").read()).digest()).decode())' "$1"; }
for f in "${!SHA512[@]}"; do
  got="$(sha512_b64 "$TMP/$f")"
  if [[ "$got" != "${SHA512[$f]}" ]]; then
    echo "vendor_js: checksum mismatch for $f (got sha512-$got)" >&2
    exit 1
  fi
  mkdir -p "$TMP/${f%.tgz}"
  tar -xzf "$TMP/$f" -C "$TMP/${f%.tgz}"
done

NEW="$TMP/_vendor"
mkdir -p "$NEW/mathjax/output/chtml/fonts" "$NEW/widgets" "$NEW/licenses"
MJ="$TMP/mathjax-3.2.2/package"
cp "$MJ/es5/tex-mml-chtml.js" "$NEW/mathjax/"
cp -r "$MJ/es5/output/chtml/fonts/woff-v2" "$NEW/mathjax/output/chtml/fonts/"
cp "$MJ/LICENSE" "$NEW/licenses/mathjax-LICENSE"

HM="$TMP/jupyter-widgets-html-manager-1.0.6/package"
cp "$HM/dist/embed-amd.js" "$HM/dist/106.embed.js" "$HM/dist/330.embed.js" "$HM"/dist/*.woff2 "$NEW/widgets/"
cp "$HM/dist/embed.js.LICENSE.txt" "$NEW/licenses/html-manager-bundled-LICENSES.txt"
if [[ -f "$HM/LICENSE" ]]; then cp "$HM/LICENSE" "$NEW/licenses/html-manager-LICENSE"; fi

RJ="$TMP/requirejs-2.3.4/package"
cp "$RJ/require.js" "$NEW/widgets/require.js"
if [[ -f "$RJ/LICENSE" ]]; then cp "$RJ/LICENSE" "$NEW/licenses/requirejs-LICENSE"; fi

printf '*\n' > "$NEW/.gitignore"
{
  echo "Fetched by scripts/vendor_js.sh from the npm registry; not part of the repository."
  echo "packages: $WANT"
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
} > "$NEW/VENDORED.txt"

rm -rf "$DEST"
mv "$NEW" "$DEST"
echo "vendor_js: wrote $(du -sh "$DEST" | cut -f1) to book/_vendor/"
