# The git checkout step (POSIX sh): run by the embedded runner on the host and by the run
# agent on AWS, as `sh -c "$(cat checkout.sh)"`, so both check out the same way. What it
# does and guarantees is described in orchestrator/git_checkout.py; its inputs are the
# MYCLI_GIT_* variables (orchestrator/agent/setup.py's checkout_step sets them).
# Prints `mycli-git-commit: SHA` on stdout; on failure, one `mycli: REASON` line on stderr.
set -u
umask 077
url=$MYCLI_GIT_URL
ref=${MYCLI_GIT_REF:-}
subdir=${MYCLI_GIT_SUBDIR:-}
target=$MYCLI_GIT_TARGET
scratch=$MYCLI_GIT_SCRATCH
credential=${MYCLI_GIT_CREDENTIAL:-}
unset MYCLI_GIT_CREDENTIAL GIT_DIR GIT_WORK_TREE GIT_CONFIG_PARAMETERS GIT_CONFIG_COUNT \
  GIT_ASKPASS SSH_ASKPASS GIT_TRACE_CURL GIT_CURL_VERBOSE GIT_TRACE_REDACT GIT_SSL_NO_VERIFY
err="$scratch/git-stderr"
key="$scratch/deploy-key"
trace="$scratch/git-trace"
trap 'rm -f "$key" "$err" "$trace"' EXIT
trap 'exit 143' TERM
trap 'exit 129' HUP
say() { printf 'mycli: %s\n' "$*" >&2; }
mkdir -p "$scratch/home" || { say "cannot prepare the git checkout"; exit 1; }
export HOME="$scratch/home" XDG_CONFIG_HOME="$scratch/home" GIT_CONFIG_NOSYSTEM=1 \
  GIT_CONFIG_GLOBAL=/dev/null GIT_TERMINAL_PROMPT=0 GIT_PROTOCOL_FROM_USER=0 LC_ALL=C
GIT_SSH_COMMAND="ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=accept-new"
GIT_SSH_COMMAND="$GIT_SSH_COMMAND -o UserKnownHostsFile='$HOME/known_hosts'"
encoded=
case "$credential" in
  "") ;;
  -----BEGIN*)
    printf '%s\n' "$credential" > "$key" || { say "cannot store the deploy key"; exit 1; }
    GIT_SSH_COMMAND="$GIT_SSH_COMMAND -o IdentitiesOnly=yes -i '$key'" ;;
  *)
    case "$credential" in *:*) basic=$credential ;; *) basic="x-access-token:$credential" ;; esac
    encoded=$(printf '%s' "$basic" | base64 | tr -d '\n')
    GIT_CONFIG_VALUE_0="Authorization: Basic $encoded"
    basic=
    # The header goes with every request, to wherever it is sent: so no redirect is
    # followed (on any request), and the trace (headers only, ours redacted) tells where
    # a refused one led.
    export GIT_CONFIG_COUNT=2 GIT_CONFIG_KEY_0=http.extraHeader GIT_CONFIG_VALUE_0 \
      GIT_CONFIG_KEY_1=http.followRedirects GIT_CONFIG_VALUE_1=false \
      GIT_TRACE_CURL="$trace" GIT_TRACE_CURL_NO_DATA=1 GIT_TRACE_REDACT=1 ;;
esac
export GIT_SSH_COMMAND
# The key, git's stderr and its trace stay the owner's (made here under umask 077, in the
# private scratch); the checkout itself is readable by all, as a clone would be: the
# command may run as another user than this step (the run agent's command container).
: >"$err" && : >"$trace" || { say "cannot prepare the git checkout"; exit 1; }
umask 022
g() {
  git -c protocol.allow=never -c protocol.https.allow=always -c protocol.http.allow=always \
    -c protocol.ssh.allow=always -c protocol.file.allow=always -c credential.helper= \
    -c core.hooksPath=/dev/null -c advice.detachedHead=false -c init.defaultBranch=main "$@"
}
last_error() {
  line=$(grep -E '^(fatal|error): ' "$err" | head -n 1)
  [ -n "$line" ] || line=$(tail -n 1 "$err")
  line=${line#fatal: }
  printf '%s' "${line#error: }"
}
denied='authentication failed|could not read (username|password)|terminal prompts disabled'
denied="$denied|permission denied|error: 40[13]|HTTP 40[13]"
redirected_to() {
  # The last Location the server answered, as a repository URL, with no control
  # characters, no query, and nothing of the credential.
  location=$(sed -n 's/^.*<= Recv header: [Ll][Oo][Cc][Aa][Tt][Ii][Oo][Nn]: *//p' "$trace" \
    2>/dev/null | tail -n 1 | tr -cd '!-~' | cut -c 1-300)
  location=${location%%\?*}
  location=${location%/info/refs}
  token=${credential#*:}
  case "$location" in
    "" | *"$credential"* | *"$token"* | *"$encoded"*)
      printf 'another URL' ;;
    *) printf '%s' "$location" ;;
  esac
}
explain() {
  if [ -n "$encoded" ] && grep -qE 'returned error: 30[1-8]' "$err"; then
    say "$url redirected to $(redirected_to): the git secret goes only to the URL named," \
      "so redirects are not followed; name the final URL"
  elif grep -q "couldn't find remote ref" "$err"; then
    say "git ref '$1' not found in $url"
  elif grep -qiE "$denied" "$err"; then
    if [ -n "$credential" ]; then
      say "$url refused the credentials of the git secret"
    else
      say "$url needs credentials: name a stored secret with --git-secret"
    fi
  else
    say "cannot fetch from $url: $(last_error)"
  fi
  exit 1
}
g init -q "$target" 2>"$err" || { say "cannot prepare the git checkout: $(last_error)"; exit 1; }
cd "$target" || exit 1
g remote add origin "$url" 2>"$err" || { say "cannot use $url: $(last_error)"; exit 1; }
if printf '%s' "$ref" | grep -qE '^([0-9a-f]{40}|[0-9a-f]{64})$'; then
  if ! g fetch -q --no-tags --depth 1 origin "$ref" 2>"$err"; then
    # The server refuses an unadvertised commit (or cannot do shallow): fetch everything.
    g fetch -q --no-tags origin '+refs/heads/*:refs/remotes/origin/*' \
      '+refs/tags/*:refs/tags/*' 2>"$err" || explain "$ref"
  fi
  g checkout -q --detach "$ref" 2>"$err" || { say "commit $ref not found in $url"; exit 1; }
else
  wanted=${ref:-HEAD}
  g fetch -q --no-tags --depth 1 origin "$wanted" 2>"$err" || explain "$wanted"
  g checkout -q --detach FETCH_HEAD 2>"$err" || {
    say "cannot check out $wanted: $(last_error)"; exit 1; }
fi
commit=$(g rev-parse HEAD 2>"$err") || { say "cannot read the commit: $(last_error)"; exit 1; }
printf 'mycli-git-commit: %s\n' "$commit"
if [ -n "$subdir" ]; then
  top=$(pwd -P)
  inside=$(cd "./$subdir" 2>/dev/null && pwd -P) || {
    say "git_subdir '$subdir' is not a directory in commit $commit"; exit 1; }
  case "$inside/" in
    "$top"/*) ;;
    *) say "git_subdir '$subdir' leads outside the checkout"; exit 1 ;;
  esac
fi
exit 0
