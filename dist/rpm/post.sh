# planledger's .rpm, after installing: the store's directory (an existing one is left as it
# is). It starts and enables nothing: docs/operations.md, Installing offline.
[ -d /var/lib/planledger ] || install -d -o planledger -g planledger -m 0750 /var/lib/planledger
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
