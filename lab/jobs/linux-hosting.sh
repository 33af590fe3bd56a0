#!/bin/bash
# dom0 job: a Linux PV domU whose disk and NIC are driven by our frontends
# hosted in its user space (gplpv-blk, gplpv-net), against this dom0's
# blkback and netback.  The domU runs lab/domu/gptests.sh and reports on
# its console (xenconsoled's log); its "gptest:" lines are echoed to the
# lab console as they come.  The domU asks for dom0's part through
# data/gptest-phase.
domu=gplx
# xenstored reports trouble (a domain over its quota, ...) through syslog.
syslogd -O /tmp/messages 2>/dev/null
# xenstored's own trace of every request, for when it stops answering.
timeout 10 xenstore-control logfile /tmp/xenstored-trace.log >/dev/null 2>&1
mkdir -p /srv && mount -t tmpfs -o size=700m tmpfs /srv
truncate -s 32M /srv/disk0.img
losetup /dev/loop0 /srv/disk0.img || { echo "job: losetup failed"; exit 2; }
truncate -s 16M /srv/disk1.img          # hot-added and hot-removed
losetup /dev/loop1 /srv/disk1.img || { echo "job: losetup failed"; exit 2; }
cat >/tmp/$domu.cfg <<CFG
name = "$domu"
type = "pv"
kernel = "/mnt/host/vmlinuz"
ramdisk = "/mnt/host/domu.cpio.gz"
extra = "console=hvc0 loglevel=6 gptests=$(cat /mnt/host/gptests)"
memory = 320
vcpus = 2
disk = [ "phy:/dev/loop0,xvda,w" ]
vif = [ "bridge=xenbr0,mac=00:16:3e:47:50:03" ]
on_poweroff = "destroy"
on_crash = "destroy"
on_reboot = "destroy"
CFG
log=/var/log/xen/console/guest-$domu.log
# dom0's end of the network checks: TCP sink/source and UDP echo.
/mnt/host/gplpv-netcheck serve 5001 >/tmp/netcheck.log 2>&1 &
t0=$(date +%s)
echo "job: creating the PV domU"
xl create /tmp/$domu.cfg || { echo "job: xl create failed"; tail -30 /var/log/xen/*.log; exit 2; }
echo "job: created in $(( $(date +%s) - t0 ))s"
# Show the domU's report on the lab console as it comes.
( while [ ! -e "$log" ]; do sleep 0.2; done
  exec tail -f "$log" ) | ( while IFS= read -r l; do
    case "$l" in *gptest:*) echo "lab: gptest: ${l#*gptest: }" >/dev/console ;; esac
  done ) &
tailer=$!
phase() { xenstore-read /local/domain/$(xl domid $domu 2>/dev/null)/data/gptest-phase 2>/dev/null; }
# xenstore stopped answering dom0: say once what xenstored and the kernel say.
stuck_reported=
xenstore_stuck() {
  [ -n "$stuck_reported" ] && return
  stuck_reported=1
  local pid
  pid=$(pidof xenstored)
  echo "job: xenstore does not answer dom0 (xenstored pid: ${pid:-none})"
  if [ -n "$pid" ]; then
    echo "job: xenstored $(grep -E '^State' /proc/$pid/status), wchan $(cat /proc/$pid/wchan 2>/dev/null), cpu time $(awk '{print $14 "+" $15}' /proc/$pid/stat) ticks"
    sed 's/^/job:   /' /proc/$pid/stack 2>/dev/null | head -12
    sleep 2
    echo "job: xenstored cpu time 2 s later: $(awk '{print $14 "+" $15}' /proc/$pid/stat) ticks"
  fi
  echo "job: syslog:"; grep -v /etc/xen/scripts /tmp/messages 2>/dev/null | tail -20 | sed 's/^/job:   /'
  echo "job: xenstored's trace, last lines:"; tail -60 /tmp/xenstored-trace.log 2>/dev/null | sed 's/^/job:   /'
  cp /tmp/xenstored-trace.log /mnt/host/ 2>/dev/null
  echo "job: dom0 kernel:"; dmesg | tail -15 | sed 's/^/job:   /'
  echo "job: $(ls -la /var/run/xenstored/ 2>&1 | tr '\n' ' ')"
}
# dom0's part, asked for through data/gptest-phase; answered in data/gptest-ack.
seen_phase=
serve_phase() {
  local id ph out rc
  id=$(timeout 10 xl domid $domu 2>/dev/null) || return
  ph=$(timeout 10 xenstore-read /local/domain/$id/data/gptest-phase 2>&1); rc=$?
  if [ $rc = 124 ] || [ $rc = 143 ]; then
    xenstore_stuck
    return
  fi
  [ $rc = 0 ] || return
  [ "$ph" = "$seen_phase" ] && return
  seen_phase=$ph
  case "$ph" in
    attach)
      out=$(xl block-attach $domu phy:/dev/loop1,xvdb,w 2>&1); rc=$?
      echo "job: xl block-attach: rc $rc $out"
      xenstore-write /local/domain/$id/data/gptest-ack "attach rc=$rc" ;;
    detach)
      out=$(timeout 60 xl block-detach $domu xvdb 2>&1); rc=$?
      echo "job: xl block-detach: rc $rc $out"
      v=$(/mnt/host/gplpv-pattern verify /dev/loop1 21 2>&1); vrc=$?
      echo "job: $v"
      xenstore-write /local/domain/$id/data/gptest-ack "detach rc=$rc verify=$vrc"
      ;;
  esac
  seen_phase=$ph
}
rc=0
# The domU is given up only when it makes no progress (its console, its
# disk and network I/O) for LAB_STALL_S seconds: lab/jobs/progress.sh.
. /mnt/host/progress.sh
progress_reset
domu_alive() {
  timeout 20 xl list $domu >/dev/null 2>&1
  local rc=$?
  # 124 (GNU) or 143 (busybox, killed by SIGTERM): timed out, cannot tell
  [ $rc = 124 ] || [ $rc = 143 ] && { xenstore_stuck; return 0; }
  return $rc
}
while domu_alive; do
  cp "$log" /mnt/host/domu-console.log 2>/dev/null
  serve_phase
  if ! progress_ok "$(timeout 10 xl domid $domu 2>/dev/null)" "$log"; then
    echo "job: STALLED: the domU made no progress for $(progress_idle) s (phase '$seen_phase'): destroying it"
    echo "job: its xenstore:"; timeout 5 xenstore-ls -f /local/domain/$(xl domid $domu) 2>&1 | grep -v '/vm/' | head -60
    xl destroy $domu; rc=3; break
  fi
  sleep 0.5
done
echo "job: domU gone after $(( $(date +%s) - t0 ))s"
sleep 0.5
kill $tailer 2>/dev/null
cp "$log" /mnt/host/domu-console.log 2>/dev/null
cp /tmp/xenstored-trace.log /mnt/host/ 2>/dev/null
echo "job: dom0 netcheck server: $(wc -l </tmp/netcheck.log) connections"
echo "job: backend vbd state: $(timeout 10 xenstore-ls /local/domain/0/backend/vbd 2>/dev/null | grep -c state) nodes left"
ls /var/log/xen/
exit $rc
