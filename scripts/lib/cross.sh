# Sourced by scripts/cross-check and scripts/release-nifs: the Debian toolchain that links
# and runs each Rust target on an x86-64 Debian machine, and installing what is missing.

# Rust target triple -> GNU triple of the Debian cross gcc (empty: this machine's gcc).
gnu_of() {
  case "$1" in
    x86_64-unknown-linux-gnu) echo "" ;;
    aarch64-unknown-linux-*) echo aarch64-linux-gnu ;;
    armv7-unknown-linux-gnueabihf | arm-unknown-linux-gnueabihf) echo arm-linux-gnueabihf ;;
    riscv64gc-unknown-linux-gnu) echo riscv64-linux-gnu ;;
    x86_64-unknown-linux-musl) echo "" ;;
    *) echo "no Debian toolchain known for $1" >&2; return 2 ;;
  esac
}
qemu_of() {
  case "$1" in
    aarch64-*) echo qemu-aarch64 ;;
    arm*-*) echo qemu-arm ;;
    riscv64gc-*) echo qemu-riscv64 ;;
    x86_64-*) echo "" ;;
  esac
}
debian_arch_of() {
  case "$1" in
    aarch64-*) echo arm64 ;;
    arm*-*) echo armhf ;;
    riscv64gc-*) echo riscv64 ;;
    x86_64-*) echo amd64 ;;
  esac
}
# CARGO_TARGET_<TRIPLE> variable prefix.
env_prefix() { echo "CARGO_TARGET_$(echo "$1" | tr 'a-z.-' 'A-Z__')"; }

# The linker cargo should use for a target; musl targets link with musl's gcc specs.
linker_of() {
  case "$1" in
    x86_64-unknown-linux-gnu) echo "" ;;
    *-musl) echo "$cross_root/$1-gcc" ;;
    *) echo "$(gnu_of "$1")-gcc" ;;
  esac
}

cross_root="${cross_root:-${TMPDIR:-/tmp}/wasmex-interp-cross}"

# apt packages a target needs (cross gcc and libc, qemu-user, musl).
packages_of() {
  local gnu
  gnu="$(gnu_of "$1")" || return 0
  if [ -n "$gnu" ]; then
    command -v "$gnu-gcc" >/dev/null 2>&1 || echo "gcc-$gnu"
    [ -d "/usr/$gnu/lib" ] || echo "libc6-dev-$(debian_arch_of "$1")-cross"
  fi
  local qemu
  qemu="$(qemu_of "$1")"
  [ -z "$qemu" ] || command -v "$qemu" >/dev/null 2>&1 || echo qemu-user
  case "$1" in
    x86_64-unknown-linux-musl) command -v musl-gcc >/dev/null 2>&1 || echo musl-tools ;;
    aarch64-unknown-linux-musl) [ -f /usr/lib/aarch64-linux-musl/musl-gcc.specs ] || echo musl-dev:arm64 ;;
  esac
}

# Installs the apt packages the given targets need.
install_toolchains() {
  local packages=() target
  for target in "$@"; do
    while read -r p; do [ -z "$p" ] || packages+=("$p"); done < <(packages_of "$target")
  done
  [ ${#packages[@]} -gt 0 ] || return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if printf '%s\n' "${packages[@]}" | grep -q ':arm64'; then
    dpkg --print-foreign-architectures | grep -qx arm64 || $sudo dpkg --add-architecture arm64
  fi
  echo "Installing ${packages[*]} with apt"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $(printf '%s\n' "${packages[@]}" | sort -u) >/dev/null
}

# Sets CARGO_TARGET_<TRIPLE>_LINKER (and _RUNNER, under qemu-user) for a target.
export_toolchain() {
  local target="$1" prefix linker qemu gnu
  prefix="$(env_prefix "$target")"
  linker="$(linker_of "$target")"
  case "$target" in
    *-musl)
      # gcc with musl's specs file (what musl-gcc is; Debian has none for aarch64), and
      # the directory of gcc's libgcc_s, which the specs leave out (Rust's unwinder needs
      # it when the C runtime is linked dynamically).
      local gcc specs
      case "$target" in
        x86_64-*) gcc=gcc specs=/usr/lib/x86_64-linux-musl/musl-gcc.specs ;;
        aarch64-*) gcc=aarch64-linux-gnu-gcc specs=/usr/lib/aarch64-linux-musl/musl-gcc.specs ;;
      esac
      # Only libgcc_s in that directory: next to it are the glibc libraries.
      local libgcc="$cross_root/$target-libgcc"
      mkdir -p "$libgcc"
      ln -sf "$("$gcc" -print-file-name=libgcc_s.so.1)" "$libgcc/libgcc_s.so.1"
      printf '#!/bin/sh\nexec %s -specs %s -L%s "$@"\n' "$gcc" "$specs" "$libgcc" >"$linker"
      chmod +x "$linker"
      ;;
  esac
  [ -z "$linker" ] || export "${prefix}_LINKER=$linker"
  qemu="$(qemu_of "$target")"
  gnu="$(gnu_of "$target")"
  [ -z "$qemu" ] || export "${prefix}_RUNNER=$qemu -L /usr/$gnu"
}
