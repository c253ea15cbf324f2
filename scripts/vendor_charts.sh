#!/usr/bin/env bash
# Re-vendor the dashboard's chart library (uPlot, MIT) from the npm registry into
# src/perfops/web/static/vendor/ and rewrite VENDORED.md with its version, checksums and
# licence. `npm pack` checks the tarball against the registry's integrity hash.
#
# Usage: scripts/vendor_charts.sh [VERSION]     (default: the pinned version below)
set -euo pipefail
VERSION="${1:-1.6.32}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/src/perfops/web/static/vendor"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

command -v npm >/dev/null || { echo "npm is needed to re-vendor uPlot" >&2; exit 1; }
(cd "$WORK" && npm pack --silent "uplot@$VERSION" >/dev/null)
INTEGRITY="$(cd "$WORK" && npm view "uplot@$VERSION" dist.integrity)"
tar -xzf "$WORK"/uplot-"$VERSION".tgz -C "$WORK"
mkdir -p "$DEST"
cp "$WORK/package/dist/uPlot.iife.min.js" "$DEST/uPlot.iife.min.js"
cp "$WORK/package/dist/uPlot.min.css" "$DEST/uPlot.min.css"
cp "$WORK/package/LICENSE" "$DEST/uPlot.LICENSE"
sum() { sha256sum "$1" | cut -d' ' -f1; }
cat > "$DEST/VENDORED.md" <<MD
# Vendored front-end code

The dashboard runs offline: no CDN. Re-vendor with \`scripts/vendor_charts.sh [VERSION]\`.

| file | package | version | licence | sha256 |
|---|---|---|---|---|
| uPlot.iife.min.js | uplot (npm) | $VERSION | MIT (uPlot.LICENSE) | $(sum "$DEST/uPlot.iife.min.js") |
| uPlot.min.css | uplot (npm) | $VERSION | MIT (uPlot.LICENSE) | $(sum "$DEST/uPlot.min.css") |

npm tarball integrity: \`$INTEGRITY\`.

Why uPlot: ~50 KB, canvas-drawn, fast on tens of thousands of points (Grafana's time-series
panel is built on it); event bands and markers are drawn in its \`draw\` hook.
MD
echo "vendored uPlot $VERSION into $DEST"
