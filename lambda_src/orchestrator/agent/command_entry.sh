# The command container's entry (POSIX sh; dash and busybox ash), run as `sh -c <this>`.
# The workspace (the volume shared with the run agent, see orchestrator/agent/layout.py)
# is $MYCLI_WORKSPACE, else /mycli. It waits for the agent's `go` (or `abort`: setup
# failed, exit 125 without running anything), then runs `/bin/sh command` in the
# background from the directory named in `cwd`, with the variables of `env/` (one file
# each: its name, its value as data), stdin from `stdin` (else /dev/null), stdout and
# stderr into the agent's FIFOs. TERM, INT and HUP are passed on to it as TERM. Its exit
# code goes to `exit` (written to exit.part, then renamed), and is this script's own.
# This script opens both FIFOs itself and holds them until it exits (saying so with
# `started`, by rename): the agent, seeing both streams end with no `exit`, knows the
# container is gone (killed: SIGKILL, out of memory), even if the command closed its own
# stdout and stderr early. The command gets them as 1 and 2 only (3 and 4 closed).
# Commands started in the background by a non-interactive sh ignore SIGINT and SIGQUIT.
set -u
set -- "${MYCLI_WORKSPACE:-/mycli}"
while [ ! -e "$1/go" ]; do
  if [ -e "$1/abort" ]; then
    exit 125
  fi
  sleep 0.05 2>/dev/null || sleep 1
done
input=/dev/null
if [ -f "$1/stdin" ]; then
  input=$1/stdin
fi
exec 3>"$1/stdout" 4>"$1/stderr"
: >"$1/started.part" && mv -f "$1/started.part" "$1/started"
# The command's variables are exported in its own subshell only, so none of them (PATH
# and IFS included) changes what this script runs; the subshell uses no variable at all,
# only positional parameters: the env files, then the workspace; a value's file is read
# with a trailing x, so its last newlines are kept.
child=
trapped=0
trap 'trapped=1; [ -z "$child" ] || kill -TERM "$child" 2>/dev/null' TERM INT HUP
(
  trap - TERM INT HUP
  cd "$(cat "$1/cwd")" || exit 126
  set -- "$1"/env/* "$1"
  while [ $# -gt 1 ]; do
    case ${1##*/} in
      "" | [!A-Za-z_]* | *[!A-Za-z0-9_]*) ;;
      *)
        if [ -f "$1" ]; then
          set -- "$(cat "$1" && echo x)" "$@"
          case $1 in *x) ;; *) exit 126 ;; esac
          export "${2##*/}=${1%x}"
          shift
        fi
        ;;
    esac
    shift
  done
  exec /bin/sh "$1/command"
) <"$input" >&3 2>&4 3>&- 4>&- &
child=$!
if [ "$trapped" = 1 ]; then
  kill -TERM "$child" 2>/dev/null
fi
code=
while :; do
  trapped=0
  wait "$child"
  status=$?
  # 127: the child was already waited for (a signal came just after it ended).
  if [ "$status" = 127 ] && [ -n "$code" ]; then
    break
  fi
  code=$status
  # A signal interrupts `wait` (its status is then the signal's): wait again.
  [ "$trapped" = 1 ] || break
done
rm -rf "$1/env" 2>/dev/null
printf '%s\n' "$code" >"$1/exit.part" && mv -f "$1/exit.part" "$1/exit"
exit "$code"
