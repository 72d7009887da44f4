#!/usr/bin/env bash
# Packs everything scripts/device/gpujs-probe.sh needs on a machine that has no Node.js, no npm
# and no X or Mesa libraries, into DEST (default .devicecarry):
#
#   DEST/gpujs-probe.sh     the probe script itself
#   DEST/bundle.tar.xz      node (this machine's binary), the CLI and the probe bundled by esbuild
#                           (gl, the one native addon, beside them in node_modules), glxprobe, and a
#                           sysroot: Xvfb, xkbcomp and the XKB data, glvnd's libGL, Mesa's GLX and
#                           its swrast/llvmpipe driver, and every library they load that is not
#                           glibc's or the C++ runtime's (the target's own, newer ones serve).
#
# Two libraries LLVM links but Mesa never calls are replaced by stubs that only carry their
# symbols: libz3 (LLVM's constraint solver, for the static analyser) and libicudata (ICU's data,
# reached through libxml2's encoding support). Together they are 54 MB, the whole bundle ~60 MB,
# and what a device call may carry is 64 MiB.
#
# Run from the repository root of a checkout with node_modules installed, on x86-64 Linux with
# Xvfb, Mesa (libgl1-mesa-dri, libglx-mesa0), xkbcomp and a C compiler.
#   scripts/device/pack-gpujs-probe.sh [DEST]
set -euo pipefail

DEST=${1:-.devicecarry}
ROOT=$(pwd)
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
SYS=$STAGE/root
mkdir -p "$SYS/bin" "$SYS/lib/dri" "$SYS/share/X11" "$SYS/app/node_modules" "$DEST"
MULTIARCH=/usr/lib/x86_64-linux-gnu

echo "pack: bundling the CLI and the probe"
banner="import { createRequire as __continuumRequire } from 'node:module'; const require = __continuumRequire(import.meta.url);"
for entry in src/cli/main.ts:continuum.mjs scripts/device/gpujs-probe.ts:probe.mjs; do
  node_modules/.bin/esbuild "${entry%%:*}" --bundle --platform=node --format=esm --target=node20 \
    --outfile="$SYS/app/${entry##*:}" --external:gl --external:webgpu '--external:@tensorflow/*' \
    --external:playwright-core '--external:@jax-js/*' '--external:@swc/*' --external:tsx \
    --banner:js="$banner" --log-level=warning
done
# gl: its JavaScript, its package.json (read for its version) and the addon; then what it requires.
mkdir -p "$SYS/app/node_modules/gl/build/Release"
cp -r node_modules/gl/index.js node_modules/gl/package.json node_modules/gl/src "$SYS/app/node_modules/gl/"
rm -rf "$SYS/app/node_modules/gl/src/"*.cc "$SYS/app/node_modules/gl/src/"*.h
cp node_modules/gl/build/Release/webgl.node "$SYS/app/node_modules/gl/build/Release/"
for p in bindings file-uri-to-path bit-twiddle glsl-tokenizer; do cp -r "node_modules/$p" "$SYS/app/node_modules/"; done

echo "pack: node, Xvfb, xkbcomp, glxprobe"
cp "$(command -v node)" "$SYS/bin/node"
cp "$(command -v Xvfb)" "$(command -v xkbcomp)" "$SYS/bin/"
cc -O1 -o "$SYS/bin/glxprobe" scripts/device/glxprobe.c -ldl
cp -r /usr/share/X11/xkb "$SYS/share/X11/"

echo "pack: GL libraries and their closure"
cp -L "$MULTIARCH/dri/swrast_dri.so" "$SYS/lib/dri/"
# Loaded by name at run time (no ldd entry): glvnd's libGL and its Mesa vendor.
dlopened="libGL.so.1 libGLX.so.0 libGLdispatch.so.0 libGLX_mesa.so.0 libX11-xcb.so.1"
for lib in $dlopened; do cp -L "$MULTIARCH/$lib" "$SYS/lib/"; done
# Provided by the target: glibc and the C++ runtime (a newer one there serves older callers).
skip='^(libc|libm|libdl|libpthread|librt|libresolv|ld-linux-x86-64|libstdc\+\+|libgcc_s)\.so'
roots=("$SYS/bin/Xvfb" "$SYS/bin/xkbcomp" "$SYS/lib/dri/swrast_dri.so" node_modules/gl/build/Release/webgl.node)
for lib in $dlopened; do roots+=("$SYS/lib/$lib"); done
for f in "${roots[@]}"; do
  ldd "$f" | awk '$3 ~ /^\// {print $1, $3}' | while read -r name path; do
    [[ $name =~ $skip ]] && continue
    [ -e "$SYS/lib/$name" ] || cp -L "$path" "$SYS/lib/$name"
  done
done

echo "pack: stubs for libz3 and libicudata"
nm -D --undefined-only "$SYS/lib/libLLVM-"*.so.* | awk '$2 ~ /^Z3_/ {print "void " $2 "(void) {}"}' >"$STAGE/z3.c"
cc -shared -fPIC -o "$SYS/lib/libz3.so.4" -Wl,-soname,libz3.so.4 "$STAGE/z3.c"
icu=$(nm -D --undefined-only "$SYS/lib/"libicuuc.so.* | awk '$2 ~ /^icudt[0-9]+_dat$/ {print $2}')
icuso=$(basename "$SYS/lib/"libicudata.so.*)
echo "const char ${icu}[64] = {0};" >"$STAGE/icu.c"
cc -shared -fPIC -o "$SYS/lib/$icuso" -Wl,-soname,"$icuso" "$STAGE/icu.c"

echo "pack: compressing"
tar -C "$SYS" -cf - . | xz -T0 -9 >"$DEST/bundle.tar.xz"
cp scripts/device/gpujs-probe.sh "$DEST/"
ls -la "$DEST"
du -cb "$DEST"/* | tail -1
echo "pack: done (from $ROOT)"
