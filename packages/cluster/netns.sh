#!/usr/bin/env bash
# Runs a command in a network and mount namespace of its own with only loopback up, so the cluster tests
# can give Pods and Services addresses a real apiserver accepts (EndpointSlices refuse 127.0.0.0/8)
# without any of that traffic leaving this namespace, and keep the cluster's names in a hosts file bound
# over /etc/hosts here alone (ZEROGATE_HOSTS_FILE). The namespaces end with the command. Needs root.
set -euo pipefail
if [ "${ZEROGATE_NETNS:-}" = 1 ]; then exec "$@"; fi
exec unshare --net --mount --propagation private -- env ZEROGATE_NETNS=1 bash -c '
  set -e
  ip link set lo up
  hosts=$(mktemp /tmp/zerogate-hosts.XXXXXX)
  printf "127.0.0.1 localhost\n::1 localhost\n" > "$hosts"
  mount --bind "$hosts" /etc/hosts
  export ZEROGATE_HOSTS_FILE=/etc/hosts
  set +e
  "$@"
  status=$?
  umount /etc/hosts
  rm -f "$hosts"
  exit $status
' netns "$@"
