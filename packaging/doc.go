// Package packaging holds what puts ferry on real servers: the systemd
// units (systemd/), the Debian package's control files and maintainer
// scripts (deb/), and the default /etc/ferry/ferry.toml; scripts/deb.sh
// builds the package from them. Its lab tests install, upgrade and purge
// the package inside a lab host, run the units' commands, and enrol a node
// over TLS.
package packaging
