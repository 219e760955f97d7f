# lib-etcd.sh - etcd members for integration tests (sourced after lib.sh).
# Members run in a network namespace of the test's own (so they never meet
# Debian's system etcd on localhost:2379), keep their data under $TMP, and
# are stopped by pid. Set IN=(ip netns exec NS) before calling member.
: >"$TMP/members"                  # "client-URL pid" per running member

need_etcd() {
  command -v etcd >/dev/null || skip "etcd is not installed (Debian package etcd-server)"
  command -v etcdctl >/dev/null || skip "etcdctl is not installed (Debian package etcd-client)"
}

# member NAME CLIENT_URL PEER_PORT CLUSTER [ETCD ARGS...]
member() {
  local name=$1 url=$2 pport=$3 cluster=$4; shift 4
  "${IN[@]}" etcd --name "$name" --data-dir "$TMP/$name" \
    --listen-client-urls "$url" --advertise-client-urls "$url" \
    --listen-peer-urls "http://127.0.0.1:$pport" \
    --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
    --initial-cluster "$cluster" --initial-cluster-state new \
    --initial-cluster-token vfstore "$@" >"$TMP/$name.log" 2>&1 &
  PIDS+=($!)
  echo "$url $!" >>"$TMP/members"
  disown $!                        # no "Killed" job notice when a test kills it
}

forget_pid() {
  local keep=() p
  for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

# Stops every member (by pid) and forgets them.
stop_members() {
  local url pid
  while read -r url pid; do
    kill "$pid" 2>/dev/null
    timeout 10 tail --pid="$pid" -f /dev/null 2>/dev/null || kill -9 "$pid" 2>/dev/null
    forget_pid "$pid"
  done <"$TMP/members"
  : >"$TMP/members"
}

# healthy ENDPOINTS [ETCDCTL ARGS...]: waits up to 30 s for every endpoint.
healthy() {
  local eps=$1 end=$((SECONDS + 30)); shift
  while [ $SECONDS -lt $end ]; do
    "${IN[@]}" etcdctl --endpoints "$eps" --dial-timeout 1s --command-timeout 1s "$@" \
      endpoint health >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  tail -n 5 "$TMP"/*.log >&2
  fail "etcd at $eps never became healthy"
}

# three_members: a 3-member cluster on 127.0.0.1:2379{1,2,3}; sets ALL.
three_members() {
  local c=c1=http://127.0.0.1:23801,c2=http://127.0.0.1:23802,c3=http://127.0.0.1:23803 i
  for i in 1 2 3; do
    member "c$i" "http://127.0.0.1:2379$i" "2380$i" "$c" "$@"
  done
  ALL=http://127.0.0.1:23791,http://127.0.0.1:23792,http://127.0.0.1:23793
  healthy "$ALL"
}

# leader ENDPOINTS: prints the client URL of the leader (waits up to 10 s).
leader() {
  local l="" _
  for _ in $(seq 1 100); do
    l=$("${IN[@]}" etcdctl --endpoints "$1" endpoint status -w json 2>/dev/null |
      json_get "next((e['Endpoint'] for e in d if e['Status']['leader'] == e['Status']['header']['member_id']), '')")
    [ -n "$l" ] && { echo "$l"; return 0; }
    sleep 0.1
  done
  return 1
}

# member_pid URL: the pid of the member serving client URL.
member_pid() { awk -v u="$1" '$1 == u {print $2}' "$TMP/members"; }

# A throwaway PKI under $PKI: mkca NAME; mkcert NAME CA EXTENSIONS.
mkca() {
  command -v openssl >/dev/null || skip "openssl is not installed"
  mkdir -p "$PKI"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -keyout "$PKI/$1.key" -out "$PKI/$1.crt" -subj "/CN=$1" 2>/dev/null || fail "openssl CA $1"
}
mkcert() {
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$PKI/$1.key" -out "$PKI/$1.csr" -subj "/CN=$1" 2>/dev/null || fail "openssl $1"
  printf '%s\n' "$3" >"$PKI/$1.ext"
  openssl x509 -req -in "$PKI/$1.csr" -CA "$PKI/$2.crt" -CAkey "$PKI/$2.key" \
    -CAcreateserial -days 1 -extfile "$PKI/$1.ext" -out "$PKI/$1.crt" 2>/dev/null ||
    fail "openssl sign $1"
}
# server_pki: CA "ca", etcd's certificate "server" for 127.0.0.1 (etcd's
# gateway dials its own gRPC server with it, so it needs clientAuth too),
# a client certificate "client" and one from another CA, "rogue".
server_pki() {
  mkca ca
  mkca evil
  mkcert server ca "subjectAltName=IP:127.0.0.1
extendedKeyUsage=serverAuth,clientAuth"
  mkcert client ca "extendedKeyUsage=clientAuth"
  mkcert rogue evil "extendedKeyUsage=clientAuth"
}
