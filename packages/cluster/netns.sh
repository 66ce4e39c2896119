#!/usr/bin/env bash
# Runs a command in a network namespace of its own with only loopback up, so the cluster tests can give
# Pods and Services addresses a real apiserver accepts (EndpointSlices refuse 127.0.0.0/8) without any
# of that traffic leaving this namespace. The namespace ends with the command. Needs root.
set -euo pipefail
if [ "${ZEROGATE_NETNS:-}" = 1 ]; then exec "$@"; fi
exec unshare --net -- env ZEROGATE_NETNS=1 bash -c 'ip link set lo up && exec "$@"' netns "$@"
