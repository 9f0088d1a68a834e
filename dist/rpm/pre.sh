# planledger's .rpm, before installing: the system user and group `planledger`, so that the
# settings file is installed root:planledger 0640.
getent group planledger >/dev/null || groupadd --system planledger
getent passwd planledger >/dev/null ||
    useradd --system --gid planledger --home-dir /var/lib/planledger --no-create-home \
        --shell /sbin/nologin --comment "planledger service" planledger
exit 0
