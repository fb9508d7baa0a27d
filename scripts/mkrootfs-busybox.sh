#!/bin/sh
# Build a busybox root filesystem image for vkernel.
#
#   mkrootfs-busybox.sh VKERNEL OUT.img [SRC:DEST ...]
#   mkrootfs-busybox.sh --stage-only DIR [SRC:DEST ...]
#
# The first form stages a tree in a temporary directory and runs
# `VKERNEL mkrootfs STAGING -o OUT.img`; the second only stages the tree into DIR
# (which must be missing or empty), for packing it in another format (cpio, ext4).
#
# The tree: /bin/busybox (the static busybox of the busybox-static package, or
# $BUSYBOX), a symlink to /bin/busybox for every applet of `busybox --list-full`,
# /etc/{passwd,group,hostname,profile,resolv.conf,hosts}, /tmp (1777), /root, /home/user, empty /dev and
# /proc (the kernel mounts its own), and /sbin/init: a shell script that prints a
# banner and execs /bin/sh (it needs no fork, unlike busybox's init applet).
# Each SRC:DEST copies the host file or directory SRC to DEST (absolute) in the image;
# the split is at the last ':' of the argument, and modes are kept.
set -eu

BUSYBOX=${BUSYBOX:-/bin/busybox}
INIT_BANNER='vkernel: /sbin/init started, exec /bin/sh'

die() {
    echo "mkrootfs-busybox: $*" >&2
    exit 1
}

usage() {
    echo "usage: $0 VKERNEL OUT.img [SRC:DEST ...]" >&2
    echo "       $0 --stage-only DIR [SRC:DEST ...]" >&2
    exit 2
}

[ $# -ge 2 ] || usage

if [ "$1" = "--stage-only" ]; then
    STAGE_ONLY=1
    STAGING=$2
    VKERNEL=
    OUT=
else
    STAGE_ONLY=0
    VKERNEL=$1
    OUT=$2
    STAGING=
fi
shift 2

# ---- checks before touching anything -------------------------------------------------

[ -f "$BUSYBOX" ] || die "$BUSYBOX not found (install the busybox-static package)"
[ -x "$BUSYBOX" ] || die "$BUSYBOX is not executable"

if command -v file >/dev/null 2>&1; then
    case $(file -L "$BUSYBOX") in
    *ELF*"statically linked"* | *ELF*"static-pie linked"*) ;;
    *) die "$BUSYBOX is not a static ELF executable (install busybox-static): $(file -L "$BUSYBOX")" ;;
    esac
elif command -v readelf >/dev/null 2>&1; then
    headers=$(readelf -l "$BUSYBOX" 2>/dev/null) || die "$BUSYBOX is not an ELF file"
    case $headers in
    *INTERP*) die "$BUSYBOX is dynamically linked (has PT_INTERP); install busybox-static" ;;
    esac
else
    die "cannot check that $BUSYBOX is static: neither 'file' nor 'readelf' is installed"
fi

for pair in "$@"; do
    case $pair in
    *:/*) ;;
    *) die "bad argument '$pair': expected SRC:DEST with an absolute DEST" ;;
    esac
    src=${pair%:*}
    [ -e "$src" ] || die "$src: no such file or directory"
done

if [ "$STAGE_ONLY" = 1 ]; then
    mkdir -p "$STAGING"
    [ -z "$(ls -A "$STAGING")" ] || die "$STAGING is not empty"
else
    [ -x "$VKERNEL" ] || die "$VKERNEL: not an executable (build it first: cargo build --release)"
    STAGING=$(mktemp -d "${TMPDIR:-/tmp}/vkernel-rootfs.XXXXXX")
    trap 'rm -rf "$STAGING"' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
fi

# ---- the tree ------------------------------------------------------------------------

R=$STAGING
umask 022
chmod 0755 "$R" # mktemp -d makes it 0700; it becomes the guest's /
mkdir -p "$R/bin" "$R/sbin" "$R/usr/bin" "$R/usr/sbin" "$R/etc" "$R/root" \
    "$R/home/user" "$R/tmp" "$R/dev" "$R/proc"
chmod 1777 "$R/tmp"
chmod 0700 "$R/root"

cp "$BUSYBOX" "$R/bin/busybox"
chmod 0755 "$R/bin/busybox"

"$BUSYBOX" --list-full >"$R/.applets" || die "$BUSYBOX --list-full failed"
while IFS= read -r applet; do
    case $applet in
    "" | bin/busybox | sbin/init) continue ;;
    esac
    mkdir -p "$R/$(dirname "$applet")"
    ln -sf /bin/busybox "$R/$applet"
done <"$R/.applets"
rm -f "$R/.applets"

cat >"$R/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:user:/home/user:/bin/sh
EOF
cat >"$R/etc/group" <<'EOF'
root:x:0:
user:x:1000:
EOF
echo vkernel >"$R/etc/hostname"
# vke0's DNS server (the host's resolver behind it), and the names every system has.
echo "nameserver 10.0.2.3" >"$R/etc/resolv.conf"
printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$R/etc/hosts"
cat >"$R/etc/profile" <<'EOF'
export PS1='\u@\h:\w\$ '
EOF
# Best effort: only root can give /home/user to uid 1000 on the host.
chown 1000:1000 "$R/home/user" 2>/dev/null || true

cat >"$R/sbin/init" <<EOF
#!/bin/sh
# vkernel's init: there is no fork yet, so print a banner and become the shell.
echo "$INIT_BANNER"
exec /bin/sh -l
EOF
chmod 0755 "$R/sbin/init"

for pair in "$@"; do
    src=${pair%:*}
    dest=${pair##*:}
    mkdir -p "$R$(dirname "$dest")"
    # Never copy through an existing symlink: applet links point at /bin/busybox,
    # which on the host is the host's busybox.
    if [ -L "$R$dest" ] || [ -f "$R$dest" ]; then
        rm -f "$R$dest"
    fi
    cp -pR "$src" "$R$dest"
done

if [ "$STAGE_ONLY" = 1 ]; then
    exit 0
fi

"$VKERNEL" mkrootfs "$R" -o "$OUT" || die "$VKERNEL mkrootfs failed"
[ -s "$OUT" ] || die "$VKERNEL mkrootfs did not write $OUT"
