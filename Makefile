# The two commands of the README, and a few more for developers.
#
#   make demo    install what is missing, build, show two agents exchanging messages
#   make test    install what is missing, build, run the whole suite (ctest)
#   make install / make uninstall   bch, man page, completions under PREFIX (/usr/local)
#   make dist    static release archives and .deb packages for linux x86_64 and aarch64
#                (cross-built, tested under qemu), install.sh and SHA256SUMS in build/dist;
#                RELEASE_URL=https://… names where they will be published;
#                DIST_TARGETS=x86_64 leaves out the cross-built one
#   make bench   build, then measure start-up, send and drain (bench/run.sh)
#   make bench-relay   the relay's throughput, latency and memory (bench/relay_bench.cpp)
#   make test-sanitize   the suite again under ASan+UBSan, built with clang (CI runs it too)
#   make fuzz    every libFuzzer target for FUZZ_SECONDS each (default 60; CI runs 8),
#                from the same clang ASan+UBSan build as test-sanitize
#   make test-tsan   the threaded unit tests and the relay and watch scripts under
#                ThreadSanitizer (CI too)
#   make tidy    clang-tidy over the project's own code (.clang-tidy; CI too)
#   make format-check    clang-format over the tracked sources (CI runs it too)
#   make mutants    one-line breakages of src/ (tests/mutants/list) the suite must catch
#                (MUTANTS_ONLY=<regex> runs some; CI those of the files the last commit
#                touched, MUTANTS_SHARE=0: see scripts/mutants.sh)

BUILD      ?= build
DEPS       := $(BUILD)/deps
RELEASE    := $(BUILD)/release
SANITIZE   := $(BUILD)/sanitize
TSAN       := $(BUILD)/tsan
TIDY       := $(BUILD)/tidy
MUTANTS    := $(BUILD)/mutants
CROSS      := $(BUILD)/cross-aarch64
DIST       := $(BUILD)/dist
FUZZ_SECONDS ?= 60
MUTANTS_SHARE ?= 1
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
# CI builds with warnings as errors; users get warnings only.
WERROR     ?= $(if $(CI),ON,OFF)
CMAKE_FLAGS = -DBCH_HTTPLIB_DIR=$(abspath $(DEPS))/httplib -DCMAKE_COMPILE_WARNING_AS_ERROR=$(WERROR)

.PHONY: all deps clang-deps cross-deps configure build demo install uninstall dist test sanitize-build test-sanitize test-tsan tidy format-check fuzz mutants bench bench-relay clean

all: build

deps:
	@scripts/install-deps.sh $(DEPS)

clang-deps:
	@scripts/install-deps.sh $(DEPS) --clang

cross-deps:
	@scripts/install-deps.sh $(DEPS) --cross

# BENCH=ON also builds the benchmarks (make bench does); the suite does not need them.
BENCH ?= OFF
configure: deps
	@echo "configuring $(RELEASE) (static release build)"
	@cmake -S . -B $(RELEASE) -DCMAKE_BUILD_TYPE=Release -DBCH_STATIC=ON -DBCH_BENCH=$(BENCH) $(CMAKE_FLAGS) >/dev/null

# Everything: bch, the unit tests and the test helpers (make test needs them all).
build: configure
	@echo "building bch and its tests"
	@scripts/build.sh $(RELEASE) $(JOBS)
	@echo "built $(RELEASE)/src/bch"

# make install [PREFIX=/usr/local] [DESTDIR=]: bch, its man page and its bash, zsh and
# fish completions (PREFIX=~/.local needs no root). make uninstall removes exactly those.
PREFIX  ?= /usr/local
DESTDIR ?=
INSTALLED = bin/bch share/man/man1/bch.1 share/bash-completion/completions/bch \
            share/zsh/site-functions/_bch share/fish/vendor_completions.d/bch.fish

install: configure
	@echo "building bch"
	@scripts/build.sh $(RELEASE) $(JOBS) bch bch_completions
	@DESTDIR="$(DESTDIR)" cmake --install $(RELEASE) --prefix "$(PREFIX)"

uninstall:
	@for f in $(INSTALLED); do \
	  if [ -e "$(DESTDIR)$(PREFIX)/$$f" ]; then rm -f "$(DESTDIR)$(PREFIX)/$$f" && echo "removed $(DESTDIR)$(PREFIX)/$$f"; fi; \
	done

# make dist [RELEASE_URL=https://…]: both static targets from this commit, packed by
# scripts/dist.sh, then installed and run by tests/dist/check.sh (arm64 under qemu). The
# release URL goes into install.sh and into the invite text of the binaries.
RELEASE_URL ?=
# DIST_TARGETS=x86_64: this machine's target alone (no cross toolchain, no qemu).
DIST_TARGETS ?= x86_64 aarch64
DIST_CROSS := $(filter aarch64,$(DIST_TARGETS))
dist: configure $(if $(DIST_CROSS),cross-deps)
	@cmake -S . -B $(RELEASE) "-DBCH_RELEASE_URL=$(RELEASE_URL)" >/dev/null
	@echo "building bch for linux-x86_64"
	@scripts/build.sh $(RELEASE) $(JOBS) bch bch_completions
ifneq ($(DIST_CROSS),)
	@echo "configuring $(CROSS) (static release build for linux-aarch64)"
	@cmake -S . -B $(CROSS) -DCMAKE_TOOLCHAIN_FILE=$(abspath cmake/aarch64-linux-gnu.cmake) \
	  -DCMAKE_BUILD_TYPE=Release -DBCH_STATIC=ON -DBCH_BENCH=OFF "-DBCH_RELEASE_URL=$(RELEASE_URL)" \
	  $(CMAKE_FLAGS) >/dev/null
	@echo "building bch for linux-aarch64"
	@scripts/build.sh $(CROSS) $(JOBS) bch bch_completions
endif
	@scripts/dist.sh $(DIST) "$(RELEASE_URL)" $(RELEASE) $(if $(DIST_CROSS),$(CROSS))
	@tests/dist/check.sh $(DIST) "$(RELEASE_URL)"

# The demo runs only bch: the unit tests (half of a first build) wait for make test.
demo: configure
	@echo "building bch"
	@scripts/build.sh $(RELEASE) $(JOBS) bch
	@scripts/demo.sh $(RELEASE)/src/bch

test: build
	@ctest --test-dir $(RELEASE) -j $(JOBS) --output-on-failure

# One clang build with ASan+UBSan and libFuzzer's coverage instrumentation serves both
# the sanitized suite and the fuzzers: one compile instead of two.
# -O1 and line tables only: reports still name file and line, and the build (half of
# CI's compile time before) is a quarter faster than at -O2 -g.
sanitize-build: clang-deps
	@# A tree configured with another compiler (g++ before) cannot switch: start afresh.
	@grep -qs '^CMAKE_CXX_COMPILER:.*clang++$$' $(SANITIZE)/CMakeCache.txt || rm -rf $(SANITIZE)
	@cmake -S . -B $(SANITIZE) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
	  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only -DNDEBUG" \
	  -DBCH_SANITIZE="address;undefined" -DBCH_FUZZ=ON -DBCH_BENCH=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(SANITIZE) -j $(JOBS) -- --no-print-directory -s

test-sanitize: sanitize-build
	@BCH_LOAD_PER_SENDER=100 ctest --test-dir $(SANITIZE) -j $(JOBS) --output-on-failure

fuzz: sanitize-build
	@scripts/fuzz.sh $(SANITIZE) $(FUZZ_SECONDS) $(JOBS)

# The threads that matter (relay workers, event streams, watchers, group commit) run in
# the unit test process, and in `bch relay` and `bch watch` under the integration
# scripts. Every TSan report, from any of those processes, lands in $(TSAN)/report.*.
TSAN_TESTS = relay|journal|contract|soak|SSE|stream|group sync|file locks|rooms|registration|mcp|watch|wake
test-tsan: deps
	@# Debug: compiles much faster than an optimised TSan build (and GCC 12 reports false
	@# null dereferences in CLI11 only when optimising); -g1, line tables only, is all a
	@# report needs and a fifth quicker to compile than -g.
	@cmake -S . -B $(TSAN) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DBCH_SANITIZE=thread \
	  -DBCH_BENCH=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(TSAN) -j $(JOBS) --target bch_unit_tests bch bch_fake_brain bch_stream_load -- --no-print-directory -s
	@rm -f $(TSAN)/report.*
	@TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 log_path=$(abspath $(TSAN))/report" \
	  ctest --test-dir $(TSAN) -j $(JOBS) --output-on-failure -R '$(TSAN_TESTS)'
	@if ls $(TSAN)/report.* >/dev/null 2>&1; then cat $(TSAN)/report.*; exit 1; fi

# clang-tidy reads the compile commands of a configured (not built) tree: bch_core's
# unity batches, which include .cpp files by design (hence that one check off), and the
# file kept out of them. The compile commands are GCC's: its own warning options are not
# clang's, hence -Wno-unknown-warning-option.
tidy: clang-deps
	@cmake -S . -B $(TIDY) -DCMAKE_BUILD_TYPE=Debug -DBCH_BENCH=OFF $(CMAKE_FLAGS) >/dev/null
	@run-clang-tidy -p $(TIDY) -j $(JOBS) -quiet -checks=-bugprone-suspicious-include \
	  -extra-arg=-Wno-unknown-warning-option \
	  'bch_core.dir/Unity/unity_[0-9]+_cxx.cxx$$|src/relay/relay_server.cpp$$' >$(TIDY)/tidy.log 2>&1 \
	  || { sed 's/\x1b\[[0-9;]*m//g' $(TIDY)/tidy.log | grep -Ev '^clang-tidy|warnings generated' >&2; exit 1; }
	@echo "clang-tidy: clean"

mutants: deps
	@MUTANTS_SHARE=$(MUTANTS_SHARE) scripts/mutants.sh $(MUTANTS) $(CMAKE_FLAGS)

format-check: deps
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format --dry-run --Werror

bench:
	@$(MAKE) --no-print-directory build BENCH=ON
	@bench/run.sh $(RELEASE)/src/bch

bench-relay:
	@$(MAKE) --no-print-directory build BENCH=ON
	@$(RELEASE)/bench/bch_relay_bench $(RELEASE)/src/bch

clean:
	rm -rf $(RELEASE) $(SANITIZE) $(TSAN) $(TIDY) $(MUTANTS) $(CROSS) $(DIST)
