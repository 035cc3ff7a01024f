#!/bin/sh
# Open MPI's remote launcher (plm_rsh_agent) for scripts/test-multihost.sh: "ssh" into one of the test hosts,
# a network namespace of this machine named after its address (10.77.0.2 -> m2d-host-2). Nothing else is
# ever reached: an address without such a namespace is refused.
host=$1
shift
ns="m2d-host-${host##*.}"
ip netns list | grep -q "^$ns\b" || { echo "mpi-netns-agent: $host is not a test host" >&2; exit 1; }
exec ip netns exec "$ns" sh -c "$*"
