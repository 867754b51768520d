# Runs one documentation example: each NNN.cmd file of DIR (in order) is one command of the
# block, NNN.exit the exit code the docs give it. Stops at the first that differs.
# Usage: bash -e docs_block.sh DIR
dir=$1
set -o pipefail
for command_file in "$dir"/*.cmd; do
  expected=$(cat "${command_file%.cmd}.exit")
  printf '$ %s\n' "$(cat "$command_file")" >&2
  set +e
  # shellcheck disable=SC1090
  . "$command_file"
  code=$?
  set -e
  if [ "$code" -ne "$expected" ]; then
    printf 'docs example exited %s, documented %s: %s\n' "$code" "$expected" "$(cat "$command_file")" >&2
    exit 1
  fi
done
