#!/usr/bin/env bash
# vipd demo: a DNS service address (198.51.100.53) kept alive by three vipd
# nodes and a client in network namespaces on one segment (198.51.100.0/24).
# Each node runs dnsmasq, which answers "whoami.demo TXT" with the node's
# name, so the client's dig shows which node serves the VIP. vipd runs the
# example configuration in deploy/examples/demo/: a DNS health check, an
# N-way order n1 > n2 > n3, gossip (peers found automatically) and the API.
#
# It narrates: the election, the client's answers, dnsmasq stopped on the
# master (the VIP follows the healthy service), a forced failover through
# curl, a maintenance drain, and `vipd status` tables; it ends with `vipd
# why dns` and `vipd events`, the cluster's account of those incidents.
# Everything it creates is removed on exit or Ctrl-C.
#
# Run as root on Debian:  ./scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

P=vipddemo            # namespace prefix: nothing outside vipddemo-* is touched
VIP=198.51.100.53
NODES=(n1 n2 n3)
WORK=$(mktemp -d /tmp/vipd-demo.XXXXXX)
declare -A PID DNSPID

say()  { printf '\n\033[1m== %s\033[0m\n' "$*"; }
note() { printf '   %s\n' "$*"; }
show() { sed 's/^/   | /'; }

cleanup() {
	set +e
	for n in "${NODES[@]}"; do
		[ -n "${PID[$n]:-}" ] && kill -9 "${PID[$n]}" 2>/dev/null
		[ -n "${DNSPID[$n]:-}" ] && kill -9 "${DNSPID[$n]}" 2>/dev/null
	done
	for ns in $(ip netns list | awk '{print $1}' | grep "^$P-"); do ip netns del "$ns"; done
	rm -rf "$WORK" /run/vipd-demo
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "Installing what the demo needs (iproute2, dnsmasq, dig, curl...) and building vipd"
bash scripts/install-deps.sh >/dev/null
export PATH="/usr/local/go/bin:$PATH"
CGO_ENABLED=0 go build -tags grpcnotrace -o "$WORK/vipd" ./cmd/vipd
note "built: $("$WORK/vipd" version | head -1)"

say "Creating the lab: a switch, nodes n1 n2 n3 (198.51.100.1-3) and a client (198.51.100.10)"
for ns in $(ip netns list | awk '{print $1}' | grep "^$P-"); do ip netns del "$ns"; done
mkdir -p /run/vipd-demo/n1 /run/vipd-demo/n2 /run/vipd-demo/n3
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

sock() { echo "$WORK/$1.sock"; }
dns_start() {
	local n=$1
	ip netns exec $P-$n dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
		--bind-dynamic --interface=eth0 --interface=lo --user=root --pid-file="$WORK/dnsmasq-$n.pid" \
		--txt-record=whoami.demo,"$n" >"$WORK/dnsmasq-$n.log" 2>&1 &
	DNSPID[$n]=$!
	disown "${DNSPID[$n]}"
}
dns_stop() { kill "${DNSPID[$1]}"; DNSPID[$1]=""; }
vipd_start() {
	local n=$1
	ip netns exec $P-$n "$WORK/vipd" agent --config "deploy/examples/demo/$n.yaml" --api-socket "$(sock "$n")" \
		>"$WORK/$n.log" 2>&1 &
	PID[$n]=$!
	disown "${PID[$n]}" # the demo reports its kills itself
}
# holder prints the node holding the VIP, "none", or "n1+n2" when several do.
holder() {
	local held=()
	for n in "${NODES[@]}"; do
		if ip -n $P-$n -br addr show dev eth0 | grep -q " $VIP/"; then held+=("$n"); fi
	done
	if ((${#held[@]} == 0)); then echo none; else (IFS=+; echo "${held[*]}"); fi
}
# wait_holder WANT TIMEOUT_S: poll every 10 ms; prints the elapsed ms.
wait_holder() {
	local want=$1 limit=$2 t0 now
	t0=$(date +%s%N)
	while :; do
		[ "$(holder)" = "$want" ] && break
		now=$(date +%s%N)
		if (((now - t0) / 1000000 > limit * 1000)); then
			echo "!! $want did not take the VIP within ${limit}s (holder: $(holder))" >&2; return 1
		fi
		sleep 0.01
	done
	now=$(date +%s%N)
	echo $(((now - t0) / 1000000))
}
# ask: the client's question to the service address.
ask() { ip netns exec $P-client dig @$VIP +time=1 +tries=1 +short whoami.demo TXT 2>/dev/null | tr -d '"' || true; }
client_check() {
	local a
	a=$(ask)
	if [ -n "$a" ]; then note "client: dig @$VIP whoami.demo TXT -> \"$a\""; else note "client: dig @$VIP got no answer"; fi
}
status() { ip netns exec $P-"$1" "$WORK/vipd" status --socket "$(sock "$1")" | show; }

say "Starting dnsmasq and vipd on every node (order n1 > n2 > n3; VRRPv3, advert every 1 s; peers from gossip)"
for n in "${NODES[@]}"; do dns_start "$n"; done
for n in "${NODES[@]}"; do vipd_start "$n"; done
ms=$(wait_holder n1 15)
note "n1 became master and bound $VIP after ${ms} ms (first check results, then a master-down interval)"
client_check
note "vipd status on n2 (its own view), through its API socket:"
status n2

say "The service fails: dnsmasq stopped on the master n1 (the server itself is fine)"
dns_stop n1
ms=$(wait_holder n2 10)
note "n2 took over after ${ms} ms: n1's DNS check failed twice (fall 2 x 500 ms), its priority dropped,"
note "it said so in an advert at once, and n2 (next in the order) took over without waiting for a master-down interval"
client_check
note "n1's check, from its status:"
status n1 | grep -E "CHECK|dns" | head -4 || true

say "dnsmasq is back on n1: after 2 good answers (rise 2) n1 is first in the order again and preempts"
dns_start n1
ms=$(wait_holder n1 10)
note "n1 is master again after ${ms} ms"
client_check

say "Forced failover with curl: move the VIP to n3, asking n2's API (n2 forwards the command to the master)"
note "curl --unix-socket n2.sock -X POST http://vipd/v1/instances/dns:failover -H 'Content-Type: application/json' -d '{\"targetNode\": \"n3\"}'"
ip netns exec $P-n2 curl -sS --unix-socket "$(sock n2)" -X POST http://vipd/v1/instances/dns:failover \
	-H 'Content-Type: application/json' -d '{"targetNode": "n3"}' | show
echo
ms=$(wait_holder n3 5)
note "n3 holds the VIP after ${ms} ms: the order is now n3 > n1 > n2 on every node, and n1 resigned (priority-0 advert)"
client_check

say "Maintenance: drain n3 (vipd maintenance n3 on, asked on n1)"
ip netns exec $P-n1 "$WORK/vipd" maintenance n3 on --socket "$(sock n1)" | show
ms=$(wait_holder n1 5)
note "n3 handed over to n1 (next in the order) after ${ms} ms, and stays BACKUP while drained"
client_check
note "the cluster as n2 sees it:"
ip netns exec $P-n2 "$WORK/vipd" members --socket "$(sock n2)" | show

say "Release n3: it is first in the order, so it takes the VIP back"
ip netns exec $P-n1 "$WORK/vipd" maintenance n3 off --socket "$(sock n1)" | show
ms=$(wait_holder n3 5)
note "n3 is master again after ${ms} ms"
client_check

say "After the incidents: why does n3 hold dns? (vipd why dns, asked on n1)"
ip netns exec $P-n1 "$WORK/vipd" why dns --socket "$(sock n1)" | show
say "And what happened, on all three nodes (vipd events --instance dns, asked on n2: it fetches n1's and n3's history over gossip)"
ip netns exec $P-n2 "$WORK/vipd" events --instance dns --socket "$(sock n2)" | show

say "The status page: http://127.0.0.1:9746/ui on each node's API port (here inside its namespace, e.g. ip netns exec $P-n1 chromium --no-sandbox http://127.0.0.1:9746/ui; read-only without a token)"
say "Done: cleaning up the lab"
