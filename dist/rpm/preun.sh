# planledger's .rpm, before erasing ($1 = 0; not on an upgrade): stops and disables the
# service and the verify timer.
if [ "$1" -eq 0 ] && [ -d /run/systemd/system ]; then
    systemctl stop planledger-verify.timer planledger-verify.service planledger.service >/dev/null 2>&1 || true
    systemctl disable planledger-verify.timer planledger.service >/dev/null 2>&1 || true
fi
exit 0
