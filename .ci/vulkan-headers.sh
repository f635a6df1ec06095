# Source this (`. .ci/vulkan-headers.sh`) before `cargo build --features vulkan` on a machine
# whose Vulkan headers are too old for llama.cpp's ggml-vulkan.cpp (it uses vk::LayerSettingEXT,
# Vulkan-Hpp >= 1.3.261; Debian 12 bookworm ships 1.3.239).
#
# It fetches Debian trixie's libvulkan-dev 1.4.309 once (headers only, sha256 pinned), unpacks it
# under $HOME/.cache/infill/ (never system-wide), and exports VULKAN_SDK pointing at an SDK-shaped
# directory: include/ from that package, lib/libvulkan.so a link to the system's loader. CMake's
# FindVulkan searches $VULKAN_SDK/include and $VULKAN_SDK/lib before the system paths, and
# llama-cpp-sys-2's build script adds $VULKAN_SDK/lib to the link search; glslc and
# SPIRV-Headers still come from the system (apt: glslc, spirv-headers).
#
# With headers new enough already (trixie, Ubuntu 24.04) it exports nothing.

_infill_vk_min=261
_infill_vk_have=$(sed -nE 's/^#define VK_HEADER_VERSION ([0-9]+).*/\1/p' \
  /usr/include/vulkan/vulkan_core.h 2>/dev/null || true)
_infill_vk_major=$(sed -nE 's/^#define VK_HEADER_VERSION_COMPLETE VK_MAKE_API_VERSION\(0, ([0-9]+), ([0-9]+),.*/\1.\2/p' \
  /usr/include/vulkan/vulkan_core.h 2>/dev/null || true)

if [ -n "$_infill_vk_have" ] && { [ "$_infill_vk_major" != "1.3" ] || [ "$_infill_vk_have" -ge "$_infill_vk_min" ]; }; then
  echo "vulkan-headers: system headers $_infill_vk_major.$_infill_vk_have are new enough" >&2
else
  _infill_vk_version=1.4.309.0-1
  _infill_vk_sha256=8d329d465e16168afff58b1bd0dd6db46aac2cc3f56054a481b25a04e90b345a
  _infill_vk_url="http://deb.debian.org/debian/pool/main/v/vulkan-loader/libvulkan-dev_${_infill_vk_version}_amd64.deb"
  _infill_vk_dir="$HOME/.cache/infill/vulkan-headers-${_infill_vk_version%-*}"
  _infill_vk_loader=$(ls /usr/lib/x86_64-linux-gnu/libvulkan.so.1 /usr/lib64/libvulkan.so.1 \
    /usr/lib/libvulkan.so.1 2>/dev/null | head -n 1 || true)
  if [ -z "$_infill_vk_loader" ]; then
    echo "vulkan-headers: no system libvulkan.so.1 (apt-get install libvulkan1)" >&2
    return 1 2>/dev/null || exit 1
  fi
  if [ ! -f "$_infill_vk_dir/include/vulkan/vulkan.hpp" ]; then
    echo "vulkan-headers: fetching libvulkan-dev $_infill_vk_version headers into $_infill_vk_dir ..." >&2
    _infill_vk_tmp=$(mktemp -d)
    if ! curl -fsSL --retry 3 -o "$_infill_vk_tmp/vk.deb" "$_infill_vk_url"; then
      echo "vulkan-headers: download failed: $_infill_vk_url" >&2
      rm -rf "$_infill_vk_tmp"; return 1 2>/dev/null || exit 1
    fi
    if ! echo "$_infill_vk_sha256  $_infill_vk_tmp/vk.deb" | sha256sum -c --quiet -; then
      echo "vulkan-headers: sha256 mismatch for $_infill_vk_url" >&2
      rm -rf "$_infill_vk_tmp"; return 1 2>/dev/null || exit 1
    fi
    dpkg-deb -x "$_infill_vk_tmp/vk.deb" "$_infill_vk_tmp/root"
    rm -rf "$_infill_vk_dir" && mkdir -p "$_infill_vk_dir/lib"
    mv "$_infill_vk_tmp/root/usr/include" "$_infill_vk_dir/include"
    rm -rf "$_infill_vk_tmp"
  fi
  ln -sfn "$_infill_vk_loader" "$_infill_vk_dir/lib/libvulkan.so"
  export VULKAN_SDK="$_infill_vk_dir"
  echo "vulkan-headers: VULKAN_SDK=$VULKAN_SDK (headers $_infill_vk_version, loader $_infill_vk_loader)" >&2
fi
unset _infill_vk_min _infill_vk_have _infill_vk_major _infill_vk_version _infill_vk_sha256 \
  _infill_vk_url _infill_vk_dir _infill_vk_loader _infill_vk_tmp
