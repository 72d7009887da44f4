#!/usr/bin/env bash
# The gpu.js backend on the machine at hand: which modes run and on which GL driver, the kernel
# table, and the training-step time at three model sizes, with bytes up, bytes down and launches
# per step. Ends within PROBE_BUDGET_S seconds (default 280): every stage runs under a timeout cut
# from what is left.
#
#   scripts/device/gpujs-probe.sh OUTDIR      in a checkout (node, Xvfb and Mesa installed here)
#   .devicecarry/gpujs-probe.sh "$OUT"        beside bundle.tar.xz, made by pack-gpujs-probe.sh,
#                                             on a machine with no Node.js, X or Mesa of its own
#
# headless-gl draws through ANGLE on GLX, so it needs an X server even off screen: this script
# starts its own Xvfb. Which GL library serves the context is glvnd's choice: the X server's
# vendor (Mesa: llvmpipe, in software), or the one __GLX_VENDOR_LIBRARY_NAME names. Both are
# tried, default and nvidia, first with glxprobe (the driver's own renderer string: headless-gl
# reports only "ANGLE"), then with the probe (the modes, and the driver libraries the process
# really loaded); the benchmarks then run on the vendor that reached a GPU, else on the default.
#
# PROBE_STAGES (default "default mid-t128 large kernels") picks the benchmarks; PROBE_LARGE_CAP_S
# (default 120) bounds the large model's two steps.
# OUTDIR receives at most 8 files: probe.log (everything printed), modes-<vendor>.json,
# kernels.json, step-default.json, step-mid-t128.json, step-large.json.
set -u
OUTDIR=${1:?usage: gpujs-probe.sh OUTDIR}
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
BUDGET=${PROBE_BUDGET_S:-280}
STARTED=$(date +%s)
HERE=$(cd "$(dirname "$0")" && pwd)
exec > >(tee -a "$OUTDIR/probe.log") 2>&1

# PROBE_STAGES: which benchmarks to run after the modes (default: all of them, in this order).
STAGES=" ${PROBE_STAGES:-default mid-t128 large kernels} "
wanted() { [[ $STAGES == *" $1 "* ]]; }
left() { echo $((BUDGET - ($(date +%s) - STARTED))); }
say() { echo "== [$(($(date +%s) - STARTED)) s] $*"; }
# Runs "$@" under a timeout of at most $1 seconds and no more than what is left, less a reserve.
bounded() {
  local cap=$1
  shift
  local t
  t=$(($(left) - 15))
  [ "$t" -gt "$cap" ] && t=$cap
  if [ "$t" -lt 5 ]; then
    echo "skipped (budget spent): $*"
    return 124
  fi
  timeout -k 5 "$t" "$@"
}

say "host: $(uname -srm), $(nproc) cpus, $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
command -v nvidia-smi >/dev/null && nvidia-smi -L
echo "device nodes: $(ls /dev/nvidia* /dev/dri 2>/dev/null | tr '\n' ' ')"
echo "GL, EGL and X libraries the system has: $(ldconfig -p | grep -oE 'lib(GL|GLX|EGL|OpenGL|GLdispatch|X11)[^ ]*\.so[^ ]*' | sort -u | tr '\n' ' ')"
echo "glvnd vendor files: $(ls /usr/share/glvnd/egl_vendor.d /usr/local/nvidia/share/glvnd/egl_vendor.d 2>/dev/null | tr '\n' ' ')"

if [ -f "$HERE/bundle.tar.xz" ]; then
  R=/tmp/gpujs-probe-root
  rm -rf "$R" && mkdir -p "$R"
  say "unpacking the carried bundle"
  python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$HERE/bundle.tar.xz" "$R" || exit 1
  NODE=$R/bin/node
  CLI=("$NODE" "$R/app/continuum.mjs")
  PROBE=("$NODE" "$R/app/probe.mjs")
  GLXPROBE=("$R/bin/glxprobe")
  XVFB=("$R/bin/Xvfb")
  XKBDIR=$R/share/X11/xkb
  export LIBGL_DRIVERS_PATH=$R/lib/dri
  # The server runs xkbcomp from the directory it was built with, and cannot be told another one.
  if [ ! -e /usr/bin/xkbcomp ]; then cp "$R/bin/xkbcomp" /usr/bin/xkbcomp && echo "installed /usr/bin/xkbcomp"; fi
  LIBS=$R/lib
else
  cd "$HERE/../.." || exit 1
  NODE=node
  CLI=(node bin/continuum)
  PROBE=(npx tsx scripts/device/gpujs-probe.ts)
  GLXPROBE=("$(mktemp -d)/glxprobe")
  cc -O1 -o "${GLXPROBE[0]}" scripts/device/glxprobe.c -ldl || exit 1
  XVFB=(Xvfb)
  XKBDIR=/usr/share/X11/xkb
  LIBS=
fi

# Where the NVIDIA driver's GLX library is, if anywhere (glvnd loads vendors by name).
NVLIB=
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu /usr/lib64; do
  if [ -e "$d/libGLX_nvidia.so.0" ]; then NVLIB=$d; break; fi
done
if [ -z "$NVLIB" ]; then
  found=$(find /usr /opt -xdev -name 'libGLX_nvidia.so.0' 2>/dev/null | head -1)
  [ -n "$found" ] && NVLIB=$(dirname "$found")
fi
say "NVIDIA GLX library: ${NVLIB:-none found}"
[ -n "$NVLIB" ] && ls "$NVLIB" | grep -E '^lib(GLX|EGL|nvidia-(glcore|tls|glsi|eglcore))' | tr '\n' ' ' && echo
# Only the programs that draw get the carried libraries: the system's own tools keep theirs.
GLLIBS=${LIBS}${NVLIB:+:$NVLIB}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
GLLIBS=${GLLIBS#:}
WITH_GL=(env LD_LIBRARY_PATH="$GLLIBS")
NODE=("${WITH_GL[@]}" "$NODE")
CLI=("${WITH_GL[@]}" "${CLI[@]}")
PROBE=("${WITH_GL[@]}" "${PROBE[@]}")
GLXPROBE=("${WITH_GL[@]}" "${GLXPROBE[@]}")
XVFB=("${WITH_GL[@]}" "${XVFB[@]}")
say "node $("${NODE[@]}" --version), carried libraries first: ${GLLIBS:-none}"

say "starting Xvfb"
fdfile=$(mktemp)
"${XVFB[@]}" -displayfd 3 -screen 0 64x64x24 -nolisten tcp -xkbdir "$XKBDIR" 3>"$fdfile" >"$fdfile.log" 2>&1 &
XPID=$!
trap 'kill $XPID 2>/dev/null' EXIT
for _ in $(seq 100); do
  [ -s "$fdfile" ] && break
  kill -0 $XPID 2>/dev/null || break
  sleep 0.1
done
if [ ! -s "$fdfile" ]; then
  echo "Xvfb did not start:"
  cat "$fdfile.log"
  exit 1
fi
export DISPLAY=:$(head -1 "$fdfile")
say "Xvfb on $DISPLAY"

best=
for vendor in default nvidia; do
  if [ "$vendor" = default ]; then unset __GLX_VENDOR_LIBRARY_NAME; else export __GLX_VENDOR_LIBRARY_NAME=$vendor; fi
  say "GLX vendor $vendor: glxprobe"
  answer=$(bounded 20 "${GLXPROBE[@]}" 2>&1)
  echo "$answer"
  renderer=$(echo "$answer" | sed -n 's/^GL_RENDERER: //p')
  say "GLX vendor $vendor: gpu.js modes"
  # The second vendor only changes headless GL's answer; the cpu-side modes are probed once.
  if [ "$vendor" = default ]; then modes=(); else modes=(headlessgl); fi
  bounded 60 "${PROBE[@]}" "$OUTDIR/modes-$vendor.json" "${modes[@]}"
  if [ -z "$best" ] && [ -n "$renderer" ] && ! echo "$renderer" | grep -qi llvmpipe; then best=$vendor; fi
done
unset __GLX_VENDOR_LIBRARY_NAME
if [ -n "$best" ]; then
  say "benchmarks on GLX vendor $best, which reached a GPU"
  [ "$best" != default ] && export __GLX_VENDOR_LIBRARY_NAME=$best
else
  say "no GLX vendor reached a GPU: benchmarks on the default vendor (software, or nothing if GL does not run)"
fi

step() { # size, stepArgs...
  local size=$1 cap=$2
  shift 2
  say "step: $size model $*"
  bounded "$cap" "${CLI[@]}" bench step --size "$size" --modes headlessgl --json "$OUTDIR/step-$size.json" "$@"
}
if wanted default; then
  step default 40 --steps 10 --warmup 2 || say "default model stopped after its 40 s (or failed: exit $?)"
fi
if wanted mid-t128; then
  step mid-t128 60 --steps 3 --warmup 1 || say "mid-t128 model stopped after its 60 s (or failed: exit $?)"
fi

# The large model does 16 to 64 times the mid-t128 model's arithmetic and twice its launches, so
# its step takes at least twice as long: skip it when mid-t128's step took over 30 s. Otherwise
# give its two steps (a warm-up, which compiles the kernels, and one timed) PROBE_LARGE_CAP_S.
mid_ms=$("${NODE[@]}" -e 'const rows = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).rows
console.log(Math.round(rows.find((r) => r.backend === "gpujs:headlessgl")?.msPerStep ?? 0))' "$OUTDIR/step-mid-t128.json" 2>/dev/null)
large_cap=${PROBE_LARGE_CAP_S:-120}
if ! wanted large; then
  :
elif wanted mid-t128 && { [ -z "$mid_ms" ] || [ "$mid_ms" = 0 ]; }; then
  say "large model skipped: mid-t128 gave no step time on headlessgl (it did not finish within its 60 s)"
elif wanted mid-t128 && [ "$mid_ms" -gt 30000 ]; then
  say "large model skipped: mid-t128 took ${mid_ms} ms per step, so a large step would exceed 60 s"
else
  step large "$large_cap" --backend gpujs --steps 1 --warmup 1 ||
    say "large model stopped: a warm-up and a timed step did not finish within ${large_cap} s or the budget (or failed: exit $?)"
fi

if wanted kernels; then
  say "kernel table (headlessgl)"
  bounded 90 "${CLI[@]}" bench kernels --modes headlessgl --json "$OUTDIR/kernels.json" ||
    say "kernel table stopped after its 90 s or the budget (or failed: exit $?)"
fi

say "Xvfb log:"
cat "$fdfile.log"
say "done in $(($(date +%s) - STARTED)) s"
