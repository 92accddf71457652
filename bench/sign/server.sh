# Sourced by bench/sign/run.sh and ab.sh.
#
# start_sigil BIN: runs "BIN server" in the current directory (state in
# data/, log in server.log) on a free loopback port and waits until it is
# ready; if it exits first (port or data directory in use), stops the
# script rather than sign against whatever else answers. Then trusts its
# TUF root (SIGIL_TUF_CACHE=$PWD/sigil-tuf) and writes a dev token valid
# for the whole run (the dev issuer's maximum is 10 minutes) to ./token.
# Sets pub (the server's URL) and spid.
#
# stop_sigil: stops that server and waits for it to exit. Its graceful
# shutdown publishes the logs' checkpoints into data/, so the directory
# must outlive it: removed first, the server spends its whole shutdown
# budget (over a minute) failing to publish, and outlives the script.
start_sigil() {
  local bin=$1 port i
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  pub=http://127.0.0.1:$port
  "$bin" server --data data --listen 127.0.0.1:$port >server.log 2>&1 &
  spid=$!
  for i in $(seq 1 300); do
    curl -fs $pub/readyz >/dev/null 2>&1 && break
    kill -0 $spid 2>/dev/null && [ "$i" -lt 300 ] || { echo "sigil server did not come up:" >&2; tail -5 server.log >&2; exit 1; }
    sleep 0.05
  done
  export SIGIL_TUF_CACHE=$PWD/sigil-tuf
  "$bin" trust init --mirror $pub/tuf --root data/tuf/repository/root.json >/dev/null 2>&1
  "$bin" dev-token --oidc-issuer $pub/oidc --mint | tr -d '\n' > token
}
stop_sigil() {
  if [ -n "${spid:-}" ]; then
    kill "$spid" 2>/dev/null || true
    wait "$spid" 2>/dev/null || true
    spid=
  fi
}
