#!/usr/bin/env bash
# Starts a one-node Slurm on this machine (munge, slurmctld, slurmd; CPUs = nproc) for
# testing jobs/ for real. Needs root (the daemons run as root) and the Debian packages
# slurm-wlm and munge (installed when missing). Prints the line to source:
#
#     eval "$(scripts/slurm/start.sh)"     # exports SLURM_CONF
#     sbatch ...; scripts/slurm/stop.sh
#
# State, logs and the configuration live in $LLOYD_SLURM_DIR (default /tmp/lloyd-slurm).
set -euo pipefail
DIR="${LLOYD_SLURM_DIR:-/tmp/lloyd-slurm}"
HOST="$(hostname)"

if [[ $(id -u) -ne 0 ]]; then
  echo "slurm/start.sh: needs root to run munged, slurmctld and slurmd" >&2
  exit 77
fi
for package in slurm-wlm munge; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing="${missing:-} $package"
done
if [[ -n "${missing:-}" ]]; then
  echo "slurm/start.sh: installing$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

mkdir -p "$DIR/state" "$DIR/spool"
# munge: the key must belong to munge, and its socket directory must exist.
if [[ ! -s /etc/munge/munge.key ]]; then
  dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
fi
chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
mkdir -p /run/munge && chown munge:munge /run/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  /usr/sbin/munged --force
fi

cat > "$DIR/slurm.conf" <<CONF
ClusterName=lloyd-test
SlurmctldHost=$HOST
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SlurmUser=root
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
JobRequeue=1
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
SchedulerParameters=defer_batch
SchedulerType=sched/backfill
InactiveLimit=0
KillWait=10
MinJobAge=600
NodeName=$HOST CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$DIR/slurm.conf"

"$(dirname "$0")/stop.sh" >/dev/null 2>&1 || true
/usr/sbin/slurmctld -f "$SLURM_CONF"
/usr/sbin/slurmd -f "$SLURM_CONF"
for _ in $(seq 1 60); do
  if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
    echo "export SLURM_CONF=$SLURM_CONF"
    exit 0
  fi
  sleep 0.5
done
echo "slurm/start.sh: the node did not become idle; see $DIR/slurmctld.log and $DIR/slurmd.log" >&2
sinfo >&2 || true
exit 1
