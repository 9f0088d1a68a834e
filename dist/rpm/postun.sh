# planledger's .rpm, after erasing or upgrading. The store (/var/lib/planledger) and the user
# `planledger` are kept: the store is the ledger.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
