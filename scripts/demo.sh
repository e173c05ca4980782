#!/usr/bin/env bash
# vipd demo: three vipd nodes and a client in network namespaces on one
# segment (198.51.100.0/24), one VIP (198.51.100.100). Shows the election,
# a crash of the master (kill -9), the old master coming back and preempting,
# and a graceful stop. Everything it creates is removed on exit or Ctrl-C.
#
# Run as root on Debian:  ./scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

P=vipddemo            # namespace prefix: nothing outside vipddemo-* is touched
VIP=198.51.100.100
NODES=(n1 n2 n3)
WORK=$(mktemp -d /tmp/vipd-demo.XXXXXX)
declare -A PID

say()  { printf '\n\033[1m== %s\033[0m\n' "$*"; }
note() { printf '   %s\n' "$*"; }

cleanup() {
	set +e
	for n in "${NODES[@]}"; do
		[ -n "${PID[$n]:-}" ] && kill -9 "${PID[$n]}" 2>/dev/null
	done
	for ns in $(ip netns list | awk '{print $1}' | grep "^$P-"); do ip netns del "$ns"; done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "Installing what the demo needs and building vipd"
bash scripts/install-deps.sh >/dev/null
export PATH="/usr/local/go/bin:$PATH"
CGO_ENABLED=0 go build -o "$WORK/vipd" ./cmd/vipd
note "built $("$WORK/vipd" version)"

say "Creating the lab: a switch, nodes n1 n2 n3 (198.51.100.1-3) and a client (198.51.100.10)"
cleanup_stale() { for ns in $(ip netns list | awk '{print $1}' | grep "^$P-"); do ip netns del "$ns"; done; }
cleanup_stale
ip netns add $P-sw
ip -n $P-sw link add br0 type bridge
ip -n $P-sw link set br0 up
i=0
for h in n1 n2 n3 client; do
	i=$((i + 1))
	addr=198.51.100.$i
	[ $h = client ] && addr=198.51.100.10
	ip netns add $P-$h
	ip -n $P-$h link set lo up
	ip link add "${P}${i}" netns $P-$h type veth peer name "p$i" netns $P-sw
	ip -n $P-$h link set "${P}${i}" name eth0
	ip -n $P-$h addr add $addr/24 dev eth0
	ip -n $P-$h link set eth0 up
	ip -n $P-sw link set "p$i" master br0
	ip -n $P-sw link set "p$i" up
	note "$h: eth0 $addr"
done

start() {
	local n=$1
	ip netns exec $P-$n "$WORK/vipd" agent --config "deploy/examples/demo/$n.yaml" >"$WORK/$n.log" 2>&1 &
	PID[$n]=$!
	disown "${PID[$n]}" # the demo reports its kills itself
}
# holder prints the node holding the VIP, "none", or "n1+n2" when several do.
holder() {
	local held=()
	for n in "${NODES[@]}"; do
		# A node whose link is down is off the segment, whatever it has bound.
		if ip -n $P-$n -br addr show dev eth0 | grep -E " (UP|UNKNOWN) " | grep -q " $VIP/"; then held+=("$n"); fi
	done
	if ((${#held[@]} == 0)); then echo none; else (IFS=+; echo "${held[*]}"); fi
}
# wait_holder WANT TIMEOUT_S: poll every 10 ms; prints the elapsed time.
wait_holder() {
	local want=$1 limit=$2 t0 now
	t0=$(date +%s%N)
	while :; do
		[ "$(holder)" = "$want" ] && break
		now=$(date +%s%N)
		if (((now - t0) / 1000000 > limit * 1000)); then
			echo "   !! $want did not take the VIP within ${limit}s (holder: $(holder))"; return 1
		fi
		sleep 0.01
	done
	now=$(date +%s%N)
	echo $(((now - t0) / 1000000))
}
client_check() {
	if ip netns exec $P-client ping -c1 -W1 $VIP >/dev/null; then
		mac=$(ip -n $P-client neigh show $VIP | awk '{print $5}')
		note "client: ping $VIP OK, its ARP entry points at $mac ($(holder)'s eth0 is $(ip -n $P-$(holder) -br link show eth0 | awk '{print $3}'))"
	else
		note "client: ping $VIP FAILED"
	fi
}

say "Starting vipd on every node (priorities n1=250, n2=200, n3=150; VRRPv3, advert every 1 s)"
for n in "${NODES[@]}"; do start "$n"; done
ms=$(wait_holder n1 10)
note "n1 became master and bound $VIP after ${ms} ms (it waits one master-down interval, ~3.1 s, for a better master first)"
client_check

say "Crash: kill -9 vipd on the master n1 and take its link down, as when a server dies"
kill -9 "${PID[n1]}"
ip -n $P-n1 link set eth0 down
ms=$(wait_holder n2 10)
note "n2 took over after ${ms} ms (master-down interval = 3 x 1 s + skew (256-200)/256 s ≈ 3.2 s)"
client_check

say "n1 comes back: it has the highest priority and preempts"
ip -n $P-n1 link set eth0 up
start n1
ms=$(wait_holder n1 10)
note "n1 preempted after ${ms} ms: it cleared the VIP its crash left bound, heard n2's lower priority and took over after its skew time"
client_check

say "Graceful stop: SIGTERM to n1 (it sends a priority-0 advert and releases the VIP)"
kill -TERM "${PID[n1]}"
ms=$(wait_holder n2 5)
note "n2 took over after ${ms} ms (only its skew time, ~0.2 s, instead of a master-down interval)"
client_check

say "Logs of n2 (state changes):"
grep -h "state change" "$WORK/n2.log" | sed 's/^/   /'

say "Done: cleaning up the lab"
