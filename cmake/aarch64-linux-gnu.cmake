# Cross-compiling bch for 64-bit Arm Linux on Debian (`make dist` uses it):
#   apt install g++-aarch64-linux-gnu qemu-user-static
#   dpkg --add-architecture arm64 && apt install libssl-dev:arm64 libspdlog-dev:arm64 libfmt-dev:arm64
# (scripts/install-deps.sh --cross does both). The arm64 libraries live in Debian's
# multiarch folders (/usr/lib/aarch64-linux-gnu), found through CMAKE_LIBRARY_ARCHITECTURE;
# the architecture-independent headers (CLI11, nlohmann_json) are shared with the host.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# Programs the build runs (the completions, ctest) run under user-mode emulation.
find_program(BCH_QEMU_AARCH64 qemu-aarch64-static qemu-aarch64)
if(BCH_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${BCH_QEMU_AARCH64}" CACHE FILEPATH "runs arm64 programs here")
endif()
# pkg-config (which FindOpenSSL asks first) must answer for arm64, not for the host.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
