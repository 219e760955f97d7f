# Every library is found with pkg-config. A missing one stops the configure
# step with the Debian package that provides it (scripts/install-deps.sh
# installs them all).
find_package(PkgConfig REQUIRED)

function(vf_require target module debpkg)
  pkg_check_modules(${target} QUIET IMPORTED_TARGET ${module})
  if(NOT ${target}_FOUND)
    message(FATAL_ERROR
      "vfab needs '${module}' (pkg-config) and it was not found.\n"
      "Install the Debian package: apt-get install ${debpkg}\n"
      "or run: scripts/install-deps.sh")
  endif()
  message(STATUS "found ${module} ${${target}_VERSION}")
endfunction()

vf_require(IBVERBS  libibverbs   libibverbs-dev)
vf_require(URING    liburing     liburing-dev)
vf_require(HWLOC    hwloc        libhwloc-dev)
vf_require(JEMALLOC jemalloc     libjemalloc-dev)
vf_require(URCU     liburcu-qsbr liburcu-dev)
vf_require(JANSSON  jansson      libjansson-dev)
vf_require(CYAML    libcyaml     libcyaml-dev)
vf_require(CMOCKA   cmocka       libcmocka-dev)
vf_require(MHD      libmicrohttpd libmicrohttpd-dev)
vf_require(PCAP     libpcap      libpcap-dev)
vf_require(CURL     libcurl      libcurl4-openssl-dev)
if(VF_BUILD_PERF)
  vf_require(GBENCH benchmark    libbenchmark-dev)
endif()
find_package(Threads REQUIRED)
