#!/bin/sh
# deb.sh builds ferry's Debian package with dpkg-deb:
#
#	scripts/deb.sh [OUTDIR]		(default dist/; `make deb`)
#
# It prints the path of the .deb it made. The version comes from git
# describe: a tag v1.2.3 with 4 commits since gives 1.2.3+4.gabc1234; with
# no tag, 0.0.0+N.gHASH where N counts the commits, so that a later build
# sorts higher; ".dirty" marks uncommitted changes. Environment:
#
#	DEB_VERSION	the version, instead of git's
#	FERRY_BIN	a ferry binary to package instead of building one
#	GO		the go command (default go)
#	DEB_COMPRESS	dpkg-deb's compressor: xz (default), gzip or none
set -eu
cd "$(dirname "$0")/.."

out=${1:-dist}
GO=${GO:-go}

if [ -n "${DEB_VERSION:-}" ]; then
	version=$DEB_VERSION
elif desc=$(git describe --tags --long --match 'v[0-9]*' --dirty 2>/dev/null); then
	version=$(printf '%s\n' "$desc" | sed -E 's/^v//; s/-([0-9]+)-g([0-9a-f]+)/+\1.g\2/; s/-dirty$/.dirty/')
else
	version="0.0.0+$(git rev-list --count HEAD).g$(git rev-parse --short HEAD)"
	git diff --quiet HEAD 2>/dev/null || version="$version.dirty"
fi
case $version in
[0-9]*) ;;
*) echo "deb.sh: version $version does not start with a digit" >&2; exit 1 ;;
esac
arch=$(dpkg --print-architecture)
# Man pages and gzip carry this date, so one commit builds the same files.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH

stage=$(mktemp -d "${TMPDIR:-/tmp}/ferry-deb.XXXXXX")
chmod 0755 "$stage"
trap 'rm -rf "$stage"' EXIT INT TERM

mkdir -p "$stage/usr/bin"
if [ -n "${FERRY_BIN:-}" ]; then
	cp "$FERRY_BIN" "$stage/usr/bin/ferry"
else
	CGO_ENABLED=0 "$GO" build -trimpath -ldflags "-X ferry/internal/cli.Version=$version" -o "$stage/usr/bin/ferry" ./cmd/ferry
fi
chmod 0755 "$stage/usr/bin/ferry"
ferry="$stage/usr/bin/ferry"

install -D -m 0644 packaging/systemd/ferry.service "$stage/lib/systemd/system/ferry.service"
install -D -m 0644 packaging/systemd/ferry-node.service "$stage/lib/systemd/system/ferry-node.service"
install -D -m 0644 packaging/ferry.toml "$stage/etc/ferry/ferry.toml"

# Generated from the commands themselves, with no config file read.
mkdir -p "$stage/usr/share/man/man1"
"$ferry" man "$stage/usr/share/man/man1" >/dev/null
gzip -9n "$stage"/usr/share/man/man1/*.1
mkdir -p "$stage/usr/share/bash-completion/completions" "$stage/usr/share/zsh/vendor-completions" "$stage/usr/share/fish/vendor_completions.d"
"$ferry" completion bash >"$stage/usr/share/bash-completion/completions/ferry"
"$ferry" completion zsh >"$stage/usr/share/zsh/vendor-completions/_ferry"
"$ferry" completion fish >"$stage/usr/share/fish/vendor_completions.d/ferry.fish"

doc="$stage/usr/share/doc/ferry"
mkdir -p "$doc"
install -m 0644 packaging/deb/copyright "$doc/copyright"
for f in docs/*.md; do
	install -m 0644 "$f" "$doc/"
done
gzip -9n -c CHANGELOG.md >"$doc/changelog.gz"

mkdir -p "$stage/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" packaging/deb/control >"$stage/DEBIAN/control"
install -m 0644 packaging/deb/conffiles "$stage/DEBIAN/conffiles"
for s in postinst prerm postrm; do
	install -m 0755 "packaging/deb/$s" "$stage/DEBIAN/$s"
done
(cd "$stage" && find . -type f ! -path './DEBIAN/*' ! -path './etc/*' -printf '%P\n' | LC_ALL=C sort | xargs md5sum) >"$stage/DEBIAN/md5sums"

mkdir -p "$out"
deb="$out/ferry_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Z"${DEB_COMPRESS:-xz}" --build "$stage" "$deb" >/dev/null
echo "$deb"
