#!/usr/bin/env bash
# Stops the Slurm daemons started by scripts/slurm/start.sh (munged is left running).
DIR="${LLOYD_SLURM_DIR:-/tmp/lloyd-slurm}"
for daemon in slurmd slurmctld; do
  pidfile="$DIR/$daemon.pid"
  if [[ -s "$pidfile" ]]; then
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  fi
done
