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
# (shell functions too; a command still running after 180 s is killed)
run() {
  name=$1; shift
  ( "$@" ) >/tmp/run.out 2>&1 &
  pid=$!
  ( sleep 180; kill -KILL $pid 2>/dev/null && echo "gptest: info $name killed after 180 s" ) &
  wd=$!
  wait $pid; rc=$?
  kill $wd 2>/dev/null
  result "$name" $rc "$(tail -2 /tmp/run.out | tr '\n' ' ' | cut -c1-200)"
  return $rc
}
phase() { gplpv-xs write data/gptest-phase "$1" >/dev/null 2>&1; echo "gptest: phase $1"; }
uptime_cs() { awk '{printf "%d", $1 * 100}' /proc/uptime; }
# Field N of the gplpv-pattern line: MiB/s
rate_of() { sed -n 's/.* \([0-9.]*\) MiB\/s.*/\1/p' "$1" | tail -1; }
iops_of() { sed -n 's/.* \([0-9]*\) IOPS.*/\1/p' "$1" | tail -1; }

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
# PID: SIGTERM, then wait while it makes progress; its exit status.  A
# process that uses no CPU for 30 s in a row (or still runs 300 s after
# SIGTERM) is shown thread by thread (kernel wait channel and stack) and
# killed: on a slow machine a teardown only takes longer.
stop_pid() {
  kill -TERM "$1" 2>/dev/null
  ( last= idle=0 t=0
    while kill -0 "$1" 2>/dev/null; do
      sleep 1; t=$((t + 1))
      cpu=$(awk '{ print $14 + $15 }' /proc/"$1"/stat 2>/dev/null)
      if [ "$cpu" = "$last" ]; then idle=$((idle + 1)); else idle=0 last=$cpu; fi
      [ $idle -lt 30 ] && [ $t -lt 300 ] && continue
      echo "gptest: info pid $1 still running $t s after SIGTERM, no CPU used for $idle s: its threads:"
      for task in /proc/"$1"/task/*; do
        echo "gptest: info   ${task##*/} $(cat "$task"/comm 2>/dev/null) wchan $(cat "$task"/wchan 2>/dev/null): $(head -4 "$task"/stack 2>/dev/null | tr '\n' ' ')"
      done
      kill -KILL "$1" 2>/dev/null && echo "gptest: info pid $1 killed"
      break
    done ) &
  wd=$!
  wait "$1"; st=$?
  kill "$wd" 2>/dev/null
  return $st
}
blk_stop() { stop_pid "$(cat /run/blk-$1.pid)"; }
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

# The disk workload both frontends run: the pattern over every sector in
# 1 MiB I/Os, then 4 MiB in 4 KiB I/Os (O_DIRECT), each verified.
blk_workload() {   # WHO DEV
  who=$1 dev=$2
  [ "$who" = ours ] && p=blk || p=linux-blk
  run $p-pattern-write gplpv-pattern write "$dev" 7 && \
    echo "gptest: FIGURE disk-write-1M $who $(rate_of /tmp/run.out) MiB/s"
  run $p-pattern-verify-every-sector gplpv-pattern verify "$dev" 7 && \
    echo "gptest: FIGURE disk-read-1M $who $(rate_of /tmp/run.out) MiB/s"
  run $p-pattern-write-4k gplpv-pattern write "$dev" 8 4 4096 && \
    echo "gptest: FIGURE disk-write-4k $who $(iops_of /tmp/run.out) IOPS"
  run $p-pattern-verify-4k gplpv-pattern verify "$dev" 8 4 4096 && \
    echo "gptest: FIGURE disk-read-4k $who $(iops_of /tmp/run.out) IOPS"
}

t_blk() {
  if ! blk_start 51712 /dev/nbd0; then
    fail blk-connect "$(tail -3 /run/blk-51712.log | tr '\n' ' ')"
    dmesg | tail -40 | sed 's/^/gptest: info /'
    return
  fi
  pass blk-connect "$(grep 'connected to' /run/blk-51712.log | cut -c1-220)"
  sectors=$(cat /sys/block/nbd0/size)
  blk_workload ours /dev/nbd0
  # discard 4 MiB at 1 MiB: must read back as zeros, the rest intact
  if blkdiscard -o 1048576 -l 4194304 /dev/nbd0 2>/tmp/dis.err; then
    run blk-discard-reads-zeros gplpv-pattern zeros /dev/nbd0 2048 8192
    run blk-discard-neighbours-intact gplpv-pattern verify /dev/nbd0 8 1
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
}

# ---- hot-add / hot-remove: dom0 runs xl block-attach / block-detach -------
ask_dom0() {    # PHASE: dom0 acts and acknowledges in data/gptest-ack
  gplpv-xs rm data/gptest-ack >/dev/null 2>&1
  phase "$1" >&2
  gplpv-xs wait data/gptest-ack '*' 90 >/dev/null 2>&1 && gplpv-xs read data/gptest-ack
}
blk_left_by_itself() {   # ID: gplpv-blk left on its own within 60 s
  pid=$(cat /run/blk-$1.pid) i=0
  while kill -0 "$pid" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
  if kill -0 "$pid" 2>/dev/null; then stop_pid "$pid"; return 1; fi
  wait "$pid"
}
t_hotplug() {
  ack=$(ask_dom0 attach)
  result blk-hotadd-xl-block-attach $([ "$ack" = "attach rc=0" ]; echo $?) "dom0: ${ack:-no answer}"
  if ! gplpv-xs wait device/vbd/51728/backend-id '*' 30 >/dev/null || ! blk_start 51728 /dev/nbd1; then
    fail blk-hotadd-connect "$(tail -3 /run/blk-51728.log 2>/dev/null | tr '\n' ' ')"; return
  fi
  pass blk-hotadd-connect "$(grep 'connected to' /run/blk-51728.log | cut -c1-120)"
  run blk-hotadd-pattern-write gplpv-pattern write /dev/nbd1 21
  run blk-hotadd-pattern-verify gplpv-pattern verify /dev/nbd1 21
  sync
  ack=$(ask_dom0 detach)
  blk_left_by_itself 51728; rc=$?
  result blk-hotremove-frontend-left $rc "gplpv-blk exit $rc: $(grep -E 'removed|closed' /run/blk-51728.log | tr '\n' ' ' | cut -c1-150)"
  result blk-hotremove-xl-block-detach $(echo "$ack" | grep -q 'detach rc=0'; echo $?) "dom0: ${ack:-no answer}"
  result blk-hotremove-data-in-backing-file $(echo "$ack" | grep -q 'verify=0'; echo $?) \
    "dom0 read the pattern back from the loop device: ${ack:-no answer}"
  # The same disk again: the data is still there.
  ack=$(ask_dom0 attach)
  if gplpv-xs wait device/vbd/51728/backend-id '*' 30 >/dev/null && blk_start 51728 /dev/nbd1; then
    run blk-hotadd-again-data-intact gplpv-pattern verify /dev/nbd1 21
    ack=$(ask_dom0 detach)
    blk_left_by_itself 51728; rc=$?
    result blk-hotremove-again $rc "gplpv-blk exit $rc, dom0: ${ack:-no answer}"
  else
    fail blk-hotadd-again-data-intact "dom0: ${ack:-no answer}; $(tail -2 /run/blk-51728.log | tr '\n' ' ')"
    dmesg | tail -40 | sed 's/^/gptest: info /'
  fi
}

# ---- network: gplpv-net bridging device/vif/ID to a TAP ------------------
DOM0=10.99.0.1
net_start() {   # ID TAP [options]
  id=$1 tap=$2; shift 2
  rm -f /run/net.ready
  gplpv-net --tap "$tap" --ready /run/net.ready "$@" "$id" >/run/net.log 2>&1 &
  echo $! >/run/net.pid
  i=0
  while [ $i -lt 600 ]; do
    [ -e /run/net.ready ] && break
    kill -0 "$(cat /run/net.pid)" 2>/dev/null || return 1
    sleep 0.1; i=$((i + 1))
  done
  [ -e /run/net.ready ] || return 1
  ip addr add 10.99.0.2/24 dev "$tap" && ip link set "$tap" up
}
net_stat() {    # KEY: a counter from gplpv-net's exit report (KEY=N)
  sed -n "s/.* $1=\([0-9][0-9]*\).*/\1/p" /run/net.log | head -1
}

# The network workload both frontends run over interface DEV.
net_workload() {   # WHO PREFIX
  who=$1 p=$2
  run $p-ping ping -c 3 -W 10 $DOM0
  sizes_ok=0
  for sz in 56 1000 1400 1472 1473 3000 8972 20000; do
    ping -c 1 -W 5 -s $sz $DOM0 >/dev/null 2>&1 && sizes_ok=$((sizes_ok + 1))
  done
  result $p-ping-size-sweep $(( sizes_ok != 8 )) "$sizes_ok of 8 sizes (56 .. 20000 bytes) answered"
  run $p-udp-sweep-verified gplpv-netcheck sweep $DOM0 5001 1 9000 61
  # without offloads every frame is MTU-sized: a quarter of the bytes
  bytes=33554432
  [ -n "$3" ] && bytes=8388608
  run $p-tcp-to-dom0-verified gplpv-netcheck send $DOM0 5001 $bytes 11 && \
    echo "gptest: FIGURE net-tcp-domU-to-dom0$3 $who $(rate_of /tmp/run.out) MiB/s"
  run $p-tcp-from-dom0-verified gplpv-netcheck recv $DOM0 5001 $bytes 12 && \
    echo "gptest: FIGURE net-tcp-dom0-to-domU$3 $who $(rate_of /tmp/run.out) MiB/s"
}

t_net() {   # on|off: offloads
  mode=$1 opts=
  [ "$mode" = off ] && opts=--no-offload
  if ! net_start 0 gpnet0 $opts; then
    fail net-connect-offload-$mode "$(tail -3 /run/net.log | tr '\n' ' ')"
    dmesg | tail -40 | sed 's/^/gptest: info /'
    return
  fi
  pass net-connect-offload-$mode "$(grep 'connected to' /run/net.log | cut -c1-230)"
  suffix=
  [ "$mode" = off ] && suffix=-no-offload
  net_workload ours net-offload-$mode "$suffix"
  ip link set gpnet0 down
  stop_pid "$(cat /run/net.pid)"; rc=$?
  grep -E 'tap:|netfront:|platform:' /run/net.log | sed 's/^/gptest: info /'
  result net-clean-exit-offload-$mode $rc "exit $rc"
  gso=$(net_stat tx_gso); csum=$(net_stat tx_csum_offload)
  if [ "$mode" = on ]; then
    result net-offloads-used $(( ${gso:-0} == 0 || ${csum:-0} == 0 )) \
      "${gso:-0} GSO frames and ${csum:-0} checksum-offload frames from the stack"
  else
    result net-offloads-unused $(( ${gso:-1} != 0 || ${csum:-1} != 0 )) \
      "${gso:-?} GSO frames and ${csum:-?} checksum-offload frames from the stack"
  fi
}

# ---- the comparison: Linux's own frontends on the same devices -------------
# A node our frontend left Closed: Initialising again, and the kernel's
# driver only once the backend is back in InitWait (a driver that sees
# it still Closed closes too).
# Linux's drivers do not remove the keys an earlier connection wrote
# (ring-page-order, queue-N/, ...): the backend would take ours for
# theirs, so the node goes back to what the toolstack wrote.
reopen_for_linux() {   # NODE
  be=$(gplpv-xs read $1/backend)
  for k in $(gplpv-xs ls $1); do
    case "$k" in
      backend|backend-id|state|handle|mac|mtu|trusted|virtual-device|device-type) ;;
      *) gplpv-xs rm "$1/$k" ;;
    esac
  done
  gplpv-xs write $1/state 1 && gplpv-xs wait $be/state 2 30
}

t_linux_blk() {
  reopen_for_linux device/vbd/51712 || fail linux-blk-reopen "the backend did not offer InitWait"
  insmod /lib/modules/$(uname -r)/kernel/drivers/block/xen-blkfront.ko
  i=0; while [ ! -e /sys/block/xvda ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
  if [ ! -e /sys/block/xvda ]; then
    be=$(gplpv-xs read device/vbd/51712/backend)
    fail linux-blk-connect "no xvda: frontend state $(gplpv-xs read device/vbd/51712/state), backend $(gplpv-xs read $be/state)"
    dmesg | tail -8 | sed 's/^/gptest: info /'
    return
  fi
  pass linux-blk-connect "xvda, $(cat /sys/block/xvda/size) sectors"
  blk_workload linux /dev/xvda
}
t_linux_net() {
  reopen_for_linux device/vif/0 || fail linux-net-reopen "the backend did not offer InitWait"
  insmod /lib/modules/$(uname -r)/kernel/drivers/net/xen-netfront.ko
  i=0; while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
  if [ ! -e /sys/class/net/eth0 ]; then fail linux-net-connect "no eth0"; return; fi
  ip addr add 10.99.0.2/24 dev eth0 && ip link set eth0 up
  pass linux-net-connect "eth0 $(cat /sys/class/net/eth0/address)"
  net_workload linux linux-net ""
  # The same without offloads: every frame MTU-sized and checksummed by the stack.
  if command -v ethtool >/dev/null; then
    run linux-net-offloads-off ethtool -K eth0 tx off sg off tso off gso off gro off
    run linux-net-no-offload-tcp-to-dom0-verified gplpv-netcheck send $DOM0 5001 8388608 13 && \
      echo "gptest: FIGURE net-tcp-domU-to-dom0-no-offload linux $(rate_of /tmp/run.out) MiB/s"
    # No figure: Linux's netfront keeps the receive GSO it negotiated at
    # connect, netback still sends it large frames; ours asked for none.
    run linux-net-no-offload-tcp-from-dom0-verified gplpv-netcheck recv $DOM0 5001 8388608 14
    echo "gptest: NOFIGURE net-tcp-dom0-to-domU-no-offload linux ethtool cannot take back the receive GSO Linux's netfront negotiated at connect, so netback still sends it 64 KiB frames: not the same workload"
  fi
}

case "$tests" in *,xs,*) timeout 120 gplpv-xs selftest ;; esac
case "$tests" in *,blk,*) t_blk ;; esac
case "$tests" in *,hotplug,*) t_hotplug ;; esac
case "$tests" in *,net,*) t_net on; t_net off ;; esac
case "$tests" in *,linux-blk,*) t_linux_blk ;; esac
case "$tests" in *,linux-net,*) t_linux_net ;; esac
phase done
exit 0
