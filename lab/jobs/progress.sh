# Sourced by the lab's dom0 jobs: waits that follow a guest's progress
# instead of the wall clock.  Progress is anything dom0 can see move: the
# guest's lines on Xen's console (its report through port 0xe9, hvmloader
# and SeaBIOS), its console log, the device models' I/O (GRUB reading the
# CD through the emulated IDE drive), and the backends' request and packet
# counters.  A wait gives up only when none of these has changed for
# LAB_STALL_S seconds (default 120); each change is also written to
# /mnt/host/progress, which lab/run-job watches the same way from outside.

LAB_STALL_S=${LAB_STALL_S:-$(cat /mnt/host/stall-seconds 2>/dev/null || echo 120)}

# One line that changes whenever the guest (domain id $1, console log $2,
# optional) makes progress.
progress_sig() {
  local id=$1 log=${2:-} pid
  {
    xl dmesg 2>/dev/null | grep -F "(d$id)" | tail -n 2
    [ -n "$log" ] && stat -c %s "$log" 2>/dev/null
    for pid in $(pidof xen-qemu-system-i386 2>/dev/null); do
      grep -E '^(rchar|wchar)' /proc/"$pid"/io 2>/dev/null
    done
    cat /sys/bus/xen-backend/devices/vbd-"$id"-*/statistics/*_req 2>/dev/null
    cat /sys/class/net/vif"$id".*/statistics/[rt]x_packets 2>/dev/null
  } | md5sum | cut -c1-12
}

progress_t=0 progress_last= progress_sampled=0
# Start a new wait: what is seen now is the baseline.
progress_reset() { progress_t=$(date +%s); progress_last=; progress_sampled=0; }
# Sample (at most every 2 s); false once nothing moved for LAB_STALL_S s.
progress_ok() {
  local now s
  now=$(date +%s)
  if [ $((now - progress_sampled)) -ge 2 ]; then
    progress_sampled=$now
    s=$(progress_sig "$@")
    if [ "$s" != "$progress_last" ]; then
      progress_last=$s progress_t=$now
      echo "$now $s" >/mnt/host/progress 2>/dev/null
    fi
  fi
  [ $((now - progress_t)) -lt "$LAB_STALL_S" ]
}
# Seconds since the last progress.
progress_idle() { echo $(( $(date +%s) - progress_t )); }
