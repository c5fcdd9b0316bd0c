# Install rules (GNUInstallDirs): the binary, systemd units, sysusers/tmpfiles entries, the example config.
