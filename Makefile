# vkernel: `make demo` boots a busybox system, `make test` runs every test.
# System packages the build needs (installed with apt-get when run as root):
#   busybox-static  the guest userland for the demo and the tests
#   musl-tools      musl-gcc, to build static musl test guests
#   e2fsprogs       mke2fs, to build ext4 test images
CARGO   ?= cargo
BUILD   := build
VKERNEL := target/release/vkernel
ROOTFS  := $(BUILD)/rootfs.img
PKGS    := busybox-static musl-tools e2fsprogs

.PHONY: all deps build rootfs demo test bench lint clean

all: build

deps:
	@missing=""; \
	for p in $(PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null || \
	    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null; }; \
	  else \
	    echo "missing packages; run: sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

build:
	$(CARGO) build --release --workspace

rootfs: deps build
	sh scripts/mkrootfs-busybox.sh $(VKERNEL) $(ROOTFS)

demo: rootfs
	$(VKERNEL) boot $(ROOTFS)

test: deps build
	$(CARGO) test --release --workspace

bench: deps build
	target/release/vkernel-bench --vkernel $(VKERNEL) --rootfs-script scripts/mkrootfs-busybox.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

clean:
	rm -rf $(BUILD)
	$(CARGO) clean
