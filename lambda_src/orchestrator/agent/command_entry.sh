# The command container's entry (see agent-design.md); the run agent's own version replaces
# this placeholder. Until then: wait for go or abort, never run anything.
w=${MYCLI_WORKSPACE:-/mycli}
while [ ! -e "$w/go" ] && [ ! -e "$w/abort" ]; do sleep 0.05; done
exit 125
