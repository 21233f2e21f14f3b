# The two commands of the README, and a few more for developers.
#
#   make demo    install what is missing, build, show two agents exchanging messages
#   make test    install what is missing, build, run the whole suite (ctest)
#   make bench   build, then measure start-up, send and drain (bench/run.sh)
#   make bench-relay   the relay's throughput, latency and memory (bench/relay_bench.cpp)
#   make test-sanitize   the suite again under ASan+UBSan (CI runs it too)
#   make format-check    clang-format over the tracked sources (CI runs it too)
#   make test-tsan   the relay, watch and concurrency unit tests under ThreadSanitizer (CI too)
#   make tidy    clang-tidy over the project's own code (.clang-tidy; about 2 minutes)
#   make fuzz    every libFuzzer target for FUZZ_SECONDS each (default 60; CI runs 8)

BUILD      ?= build
DEPS       := $(BUILD)/deps
RELEASE    := $(BUILD)/release
SANITIZE   := $(BUILD)/sanitize
FUZZ       := $(BUILD)/fuzz
TSAN       := $(BUILD)/tsan
TIDY       := $(BUILD)/tidy
FUZZ_SECONDS ?= 60
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
# CI builds with warnings as errors; users get warnings only.
WERROR     ?= $(if $(CI),ON,OFF)
CMAKE_FLAGS = -DBCH_HTTPLIB_DIR=$(abspath $(DEPS))/httplib -DCMAKE_COMPILE_WARNING_AS_ERROR=$(WERROR)

.PHONY: all deps build demo test test-sanitize test-tsan tidy format-check fuzz bench bench-relay clean

all: build

deps:
	@scripts/install-deps.sh $(DEPS)

# BENCH=ON also builds the benchmarks (make bench does); the suite does not need them.
BENCH ?= OFF
build: deps
	@cmake -S . -B $(RELEASE) -DCMAKE_BUILD_TYPE=Release -DBCH_STATIC=ON -DBCH_BENCH=$(BENCH) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(RELEASE) -j $(JOBS) -- --no-print-directory -s
	@echo "built $(RELEASE)/src/bch"

demo: build
	@scripts/demo.sh $(RELEASE)/src/bch

test: build
	@ctest --test-dir $(RELEASE) -j $(JOBS) --output-on-failure

test-sanitize: deps
	@cmake -S . -B $(SANITIZE) -DCMAKE_BUILD_TYPE=Debug -DBCH_SANITIZE="address;undefined" -DBCH_BENCH=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(SANITIZE) -j $(JOBS) -- --no-print-directory -s
	@BCH_LOAD_PER_SENDER=100 ctest --test-dir $(SANITIZE) -j $(JOBS) --output-on-failure

# Only the unit tests: the threads that matter (relay workers, event streams, watchers,
# group commit) all run inside the unit test process.
TSAN_TESTS = relay|contract|soak|SSE|stream|group sync|file locks|rooms|registration|mcp
test-tsan: deps
	@# Debug: compiles much faster than an optimised TSan build (and GCC 12 reports false
	@# null dereferences in CLI11 only when optimising).
	@cmake -S . -B $(TSAN) -DCMAKE_BUILD_TYPE=Debug -DBCH_SANITIZE=thread -DBCH_BENCH=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(TSAN) -j $(JOBS) --target bch_unit_tests -- --no-print-directory -s
	@TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" ctest --test-dir $(TSAN) -j $(JOBS) \
	  --output-on-failure -L unit -R '$(TSAN_TESTS)'

tidy: deps
	@cmake -S . -B $(TIDY) -DCMAKE_BUILD_TYPE=Debug -DBCH_CLANG_TIDY=ON -DBCH_BENCH=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(TIDY) -j $(JOBS) --target bch_core -- --no-print-directory -s
	@echo "clang-tidy: clean"

fuzz:
	@scripts/install-deps.sh $(DEPS) --fuzz
	@cmake -S . -B $(FUZZ) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ -DBCH_FUZZ=ON \
	  -DBCH_SANITIZE="address;undefined" -DBCH_BENCH=OFF -DBCH_HTTPLIB_DIR=$(abspath $(DEPS))/httplib >/dev/null
	@cmake --build $(FUZZ) -j $(JOBS) --target bch_fuzzers -- --no-print-directory -s
	@scripts/fuzz.sh $(FUZZ) $(FUZZ_SECONDS) $(JOBS)

format-check: deps
	@git ls-files '*.cpp' '*.hpp' | xargs clang-format --dry-run --Werror

bench:
	@$(MAKE) --no-print-directory build BENCH=ON
	@bench/run.sh $(RELEASE)/src/bch

bench-relay:
	@$(MAKE) --no-print-directory build BENCH=ON
	@$(RELEASE)/bench/bch_relay_bench $(RELEASE)/src/bch

clean:
	rm -rf $(RELEASE) $(SANITIZE) $(FUZZ) $(TSAN) $(TIDY)
