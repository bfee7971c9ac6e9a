#!/usr/bin/env bash
# On the lent GPU machine: unpack the carried GL/EGL/liburing client packages (.gl/*.deb) and make
# sure glvnd finds the NVIDIA EGL vendor library. Source it: `. tools/device-setup.sh`.
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
if [ -z "${__EGL_VENDOR_LIBRARY_FILENAMES:-}" ] && [ -f /usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json ] \
   && ! ls /usr/share/glvnd/egl_vendor.d/*nvidia* >/dev/null 2>&1; then
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
fi
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null || true
