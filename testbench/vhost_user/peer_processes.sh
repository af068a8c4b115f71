# Sourced by the scripts that start real peers (interop.sh, conformance.sh):
# the processes they start go in `pids`; stop_peers ends them all.
pids=()

# SIGINT lets testpmd close its ports and print totals (and serve print its
# counters); KILL only what is still there after 10 s.
stop_peers() {
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
  done
  wait 2>/dev/null
}
