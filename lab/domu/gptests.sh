#!/bin/sh
# The lab's tests inside the Linux domU: our frontends hosted in user space
# (gplpv-blk over NBD, gplpv-net over TAP) against dom0's real blkback and
# netback, and the same workloads through Linux's own xen-blkfront /
# xen-netfront for the comparison.  Each check prints
# "gptest: PASS|FAIL <name>: <detail>"; figures print as "gptest: FIGURE ...".
# Usage: gptests.sh a,b,...   (xs blk net linux-blk linux-net)
tests=",$1,"
pass() { echo "gptest: PASS $1${2:+: $2}"; }
fail() { echo "gptest: FAIL $1${2:+: $2}"; }
result() { if [ "$2" = 0 ]; then pass "$1" "$3"; else fail "$1" "$3"; fi; }
# run NAME CMD...: the command's status decides, its last line is the detail.
run() {
  name=$1; shift
  "$@" >/tmp/run.out 2>&1; rc=$?
  result "$name" $rc "$(tail -2 /tmp/run.out | tr '\n' ' ' | cut -c1-200)"
  return $rc
}
phase() { gplpv-xs write data/gptest-phase "$1" >/dev/null 2>&1; echo "gptest: phase $1"; }
uptime_cs() { awk '{printf "%d", $1 * 100}' /proc/uptime; }
# Field N of the gplpv-pattern line: MiB/s
rate_of() { sed -n 's/.*: \([0-9.]*\) MiB\/s.*/\1/p' "$1" | tail -1; }

# ---- block: gplpv-blk serving device/vbd/ID as /dev/nbdN ------------------
blk_start() {   # ID NBD [options]
  id=$1 nbd=$2; shift 2
  rm -f /run/blk-$id.ready
  gplpv-blk --nbd "$nbd" --ready /run/blk-$id.ready "$@" "$id" >/run/blk-$id.log 2>&1 &
  echo $! >/run/blk-$id.pid
  i=0
  while [ $i -lt 600 ]; do
    [ -e /run/blk-$id.ready ] && return 0
    kill -0 "$(cat /run/blk-$id.pid)" 2>/dev/null || break
    sleep 0.1; i=$((i + 1))
  done
  return 1
}
blk_stop() {    # ID: SIGTERM, wait, exit status
  pid=$(cat /run/blk-$1.pid)
  kill -TERM "$pid" 2>/dev/null
  wait "$pid"
}
blk_stat() {    # ID FIELD: a counter from the exit report ("12 flushes")
  sed -n "s/.* \([0-9][0-9]*\) $2.*/\1/p" /run/blk-$1.log | head -1
}

fs_files() {    # DEV: mkfs, files, checksums across a remount
  dev=$1
  mkfs.ext4 -q -F "$dev" || return 1
  mkdir -p /mnt/d && mount -t ext4 "$dev" /mnt/d || return 1
  n=0
  for kib in 1 7 100 1024 4096 8192; do
    dd if=/dev/urandom of=/mnt/d/f$n bs=1024 count=$kib 2>/dev/null || return 1
    n=$((n + 1))
  done
  mkdir -p /mnt/d/dir && for i in $(seq 1 50); do echo "file $i" >/mnt/d/dir/s$i; done
  (cd /mnt/d && sha256sum f* dir/* >/run/sums)
  sync
  umount /mnt/d || return 1
  echo 3 >/proc/sys/vm/drop_caches
  mount -t ext4 "$dev" /mnt/d || return 1
  (cd /mnt/d && sha256sum -c /run/sums >/run/sums.out 2>&1); rc=$?
  echo "$(grep -c ': OK$' /run/sums.out) of $(wc -l </run/sums) files verified after remount"
  umount /mnt/d || return 1
  return $rc
}

t_blk() {
  if ! blk_start 51712 /dev/nbd0; then
    fail blk-connect "$(tail -3 /run/blk-51712.log | tr '\n' ' ')"; return
  fi
  pass blk-connect "$(grep 'connected to' /run/blk-51712.log | cut -c1-220)"
  sectors=$(cat /sys/block/nbd0/size)
  run blk-pattern-write gplpv-pattern write /dev/nbd0 7
  cp /tmp/run.out /run/ours-write.out
  run blk-pattern-verify-every-sector gplpv-pattern verify /dev/nbd0 7
  cp /tmp/run.out /run/ours-read.out
  # discard 4 MiB at 1 MiB: must read back as zeros, the rest intact
  if blkdiscard -o 1048576 -l 4194304 /dev/nbd0 2>/tmp/dis.err; then
    run blk-discard-reads-zeros gplpv-pattern zeros /dev/nbd0 2048 8192
    run blk-discard-neighbours-intact gplpv-pattern verify /dev/nbd0 7 1
  else
    fail blk-discard-reads-zeros "blkdiscard: $(cat /tmp/dis.err)"
  fi
  run blk-ext4-files-checksums fs_files /dev/nbd0
  blk_stop 51712; rc=$?
  cat /run/blk-51712.log | grep -E 'nbd:|blkfront:|platform:' | sed 's/^/gptest: info /'
  errs=$(blk_stat 51712 errors)
  result blk-clean-exit $(( rc != 0 || ${errs:-1} != 0 )) "exit $rc, $errs errors"
  fl=$(blk_stat 51712 flushes); dc=$(blk_stat 51712 discards)
  result blk-flush-reached-blkfront $(( ${fl:-0} == 0 )) "${fl:-0} flushes"
  result blk-discard-reached-blkfront $(( ${dc:-0} == 0 )) "${dc:-0} discards"
  echo "gptest: FIGURE disk-seq-write ours $(rate_of /run/ours-write.out) MiB/s"
  echo "gptest: FIGURE disk-seq-read ours $(rate_of /run/ours-read.out) MiB/s"
}

case "$tests" in *,xs,*) gplpv-xs selftest ;; esac
case "$tests" in *,blk,*) t_blk ;; esac
phase done
exit 0
