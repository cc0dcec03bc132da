#!/usr/bin/env bash
# Compiles every GLSL source in shaders/ to SPIR-V in shaders/spv/ with Debian's glslang-tools.
# The committed .spv files are what weft embeds; tests/shaders.rs fails when they differ from what this
# script produces, so run it after editing a shader and commit both.
set -euo pipefail
cd "$(dirname "$0")"
out=${1:-spv}
mkdir -p "$out"
for src in *.vert *.frag *.comp; do
  [ -e "$src" ] || continue
  glslangValidator --quiet -V --target-env vulkan1.1 -o "$out/$src.spv" "$src"
done
