# sentinel-logd: a thin wrapper over CMake.  `make help` lists the targets.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build
# Steps run in the order written; the builds themselves run in parallel.
.NOTPARALLEL:

CMAKE ?= cmake
CTEST ?= ctest
CLANG_FORMAT ?= clang-format
JOBS ?= 2
ARGS ?=

DEPS_DIR    := build/deps
RELEASE_DIR := build/release
ASAN_DIR    := build/asan
DEB_DIR     := build/deb

# `make install`: where to (the prefix is built into the binary and the
# unit), and an optional staging root.
PREFIX  ?= /usr/local
DESTDIR ?=

DEPS_SCRIPT := tools/setup/deps.sh
LWS_SCRIPT  := tools/setup/libwebsockets.sh
# Written by the `lws` target: the libwebsockets prefix, or `system`.
LWS_RESULT  := $(DEPS_DIR)/libwebsockets.prefix

# Expanded only when a recipe uses it, i.e. after `lws` has run.
# Empty when the system libwebsockets is used.
LWS_PREFIX = $(shell r=$$(cat '$(LWS_RESULT)' 2>/dev/null || true); [ "$$r" = system ] || printf '%s' "$$r")

RELEASE_FLAGS := -DCMAKE_BUILD_TYPE=RelWithDebInfo
ASAN_FLAGS    := -DCMAKE_BUILD_TYPE=Debug -DSENTINEL_SANITIZE=ON
CTEST_FLAGS   := --output-on-failure -j$(JOBS) --timeout 600

# The C sources kept in the style of the checked-in .clang-format.
FORMAT_FILES = $(shell find src tools tests -name node_modules -prune -o -name '*.[ch]' -print | LC_ALL=C sort)

# $(call cmake_build,DIR,FLAGS): configure and build one tree.
define cmake_build
	$(CMAKE) -S . -B $(1) $(2) -DLWS_PREFIX="$(LWS_PREFIX)"
	$(CMAKE) --build $(1) -j$(JOBS)
endef

# `make soak`: hours of mixed load (tests/soak/soak.py), not part of `make test`.
SOAK_MINUTES ?= 30
SOAK_ARGS    ?=

.PHONY: help deps deps-test lws build run test install deb format format-check bench bench-peers bench-cluster soak clean distclean

help:
	@echo "sentinel-logd make targets:"
	@echo "  build         (default) install deps, build libwebsockets, build $(RELEASE_DIR)"
	@echo "  run           build, then run $(RELEASE_DIR)/sentinel-logd \$$(ARGS)"
	@echo "                (serves 127.0.0.1:8000 on data/sentinel.db by default)"
	@echo "  test          format-check, then build $(RELEASE_DIR) and $(ASAN_DIR) (ASan/UBSan),"
	@echo "                run ctest in both"
	@echo "  install       build $(RELEASE_DIR) for PREFIX (default /usr/local) and install it"
	@echo "                (under DESTDIR if given): programs, manual pages, systemd unit,"
	@echo "                sysusers.d and tmpfiles.d files, example configuration"
	@echo "  deb           build the Debian package $(DEB_DIR)/sentinel-logd_VERSION_ARCH.deb"
	@echo "  format        reformat the C files of src/, tools/ and tests/ with clang-format"
	@echo "  format-check  list the C files that clang-format would change; fail if any"
	@echo "  deps          install missing Debian packages (tools/setup/deps.sh)"
	@echo "  deps-test     same, plus the test-only packages (tools/setup/deps.sh test)"
	@echo "  lws           build libwebsockets into $(DEPS_DIR) (cached)"
	@echo "  bench         build, then run the benchmark suite (about 5 minutes) and print its table"
	@echo "  bench-peers   the same scenarios against NATS JetStream and nginx + nchan, started"
	@echo "                on free loopback ports, and the ratios (about 4 minutes)"
	@echo "  bench-cluster the cluster's figures: 3 nats-server, 2 nodes (about 3 minutes)"
	@echo "  soak          build, then run mixed load for SOAK_MINUTES (30) and check that"
	@echo "                nothing grows and no stream has a gap (SOAK_ARGS=\"--hours 4\")"
	@echo "  fuzz          build the libFuzzer targets with clang in $(FUZZ_DIR), run each $(FUZZ_TIME) s"
	@echo "  clean         remove $(RELEASE_DIR) and $(ASAN_DIR), keep $(DEPS_DIR)"
	@echo "  distclean     remove build/"
	@echo "  help          this list"

deps:
	@$(DEPS_SCRIPT)

deps-test:
	@$(DEPS_SCRIPT) test

lws:
	@mkdir -p $(DEPS_DIR)
	@prefix=$$($(LWS_SCRIPT) $(DEPS_DIR) | tail -n 1); \
	[ -n "$$prefix" ] || { echo "make: $(LWS_SCRIPT) printed no prefix" >&2; exit 1; }; \
	printf '%s\n' "$$prefix" >$(LWS_RESULT)

build: deps lws
	$(call cmake_build,$(RELEASE_DIR),$(RELEASE_FLAGS))

run: build
	@mkdir -p data
	exec $(RELEASE_DIR)/sentinel-logd $(ARGS)

# The style is checked before anything is built, so that CI fails early.
test: deps-test format-check lws
	$(call cmake_build,$(RELEASE_DIR),$(RELEASE_FLAGS))
	$(call cmake_build,$(ASAN_DIR),$(ASAN_FLAGS))
	@rc=0; \
	$(CTEST) --test-dir $(RELEASE_DIR) $(CTEST_FLAGS) || rc=1; \
	$(CTEST) --test-dir $(ASAN_DIR) $(CTEST_FLAGS) || rc=1; \
	if [ $$rc -ne 0 ]; then echo "make: tests failed" >&2; fi; \
	exit $$rc

# clang-format comes with the test packages (tools/setup/deps.sh test).
format:
	@command -v $(CLANG_FORMAT) >/dev/null || \
	  { echo "make: $(CLANG_FORMAT) not found: run make deps-test" >&2; exit 1; }
	@echo "$(CLANG_FORMAT) -i: $(words $(FORMAT_FILES)) files of src/, tools/ and tests/"
	@$(CLANG_FORMAT) -i $(FORMAT_FILES)

format-check:
	@command -v $(CLANG_FORMAT) >/dev/null || \
	  { echo "make: $(CLANG_FORMAT) not found: run make deps-test" >&2; exit 1; }
	@bad=(); \
	for f in $(FORMAT_FILES); do \
	  $(CLANG_FORMAT) "$$f" | cmp -s - "$$f" || bad+=("$$f"); \
	done; \
	if [ $${#bad[@]} -ne 0 ]; then \
	  echo "make: these files differ from $(CLANG_FORMAT)'s output (run make format):" >&2; \
	  printf '  %s\n' "$${bad[@]}" >&2; \
	  exit 1; \
	fi

install: deps lws
	$(call cmake_build,$(RELEASE_DIR),$(RELEASE_FLAGS) -DCMAKE_INSTALL_PREFIX="$(PREFIX)")
	DESTDIR="$(DESTDIR)" $(CMAKE) --install $(RELEASE_DIR)

deb: deps lws
	@JOBS=$(JOBS) tools/packaging/build-deb.sh $(DEB_DIR) "$(LWS_PREFIX)"

bench: build
	tools/sentinel-bench/run-suite.sh --build-dir $(RELEASE_DIR)

# The peers come from Debian's packages (tools/setup/deps.sh bench).
bench-peers: build
	@$(DEPS_SCRIPT) bench
	tools/sentinel-bench/peers-suite.sh --build-dir $(RELEASE_DIR)

bench-cluster: deps-test build
	tools/sentinel-bench/cluster-suite.py --build-dir $(RELEASE_DIR)

soak: deps-test build
	/usr/bin/python3 tests/soak/soak.py --build-dir $(RELEASE_DIR) --minutes $(SOAK_MINUTES) $(SOAK_ARGS)

clean:
	rm -rf $(RELEASE_DIR) $(ASAN_DIR)

distclean:
	rm -rf build

# ---------------------------------------------------------------- fuzzing
# `make fuzz`: build the libFuzzer targets of tests/fuzz with clang in
# build/fuzz, then run each for FUZZ_TIME seconds over a copy of its corpus
# (the checked-in corpus is not touched; new inputs stay in build/fuzz).
# The run goes on past a failure (fork mode) and leaves each failing input
# of this run in build/fuzz/artifacts/TARGET/; add it to
# tests/fuzz/corpus/TARGET/ as a regression case, which `make test` replays.
FUZZ_DIR     := build/fuzz
FUZZ_TARGETS := logevent ingest timestamp query url
FUZZ_TIME    ?= 60
FUZZ_FLAGS   ?=

.PHONY: fuzz

fuzz: deps lws
	CC=clang $(CMAKE) -S . -B $(FUZZ_DIR) -DCMAKE_BUILD_TYPE=Debug -DLWS_PREFIX="$(LWS_PREFIX)"
	$(CMAKE) --build $(FUZZ_DIR) -j$(JOBS) --target fuzzers
	@rc=0; \
	for t in $(FUZZ_TARGETS); do \
	  work=$(FUZZ_DIR)/corpus/$$t; arts=$(FUZZ_DIR)/artifacts/$$t; \
	  rm -rf $$arts; mkdir -p $$work $$arts; \
	  cp -f tests/fuzz/corpus/$$t/* $$work/; \
	  echo "fuzz: $$t for $(FUZZ_TIME) s"; \
	  $(FUZZ_DIR)/tests/fuzz/fuzz_$$t -max_total_time=$(FUZZ_TIME) -timeout=10 \
	    -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
	    -dict=tests/fuzz/$$t.dict -artifact_prefix=$$arts/ $(FUZZ_FLAGS) $$work \
	    >$(FUZZ_DIR)/fuzz-$$t.log 2>&1 || rc=1; \
	  grep -a 'cov:' $(FUZZ_DIR)/fuzz-$$t.log | tail -n 1 || true; \
	  n=$$(ls $$arts | wc -l); \
	  if [ "$$n" -gt 0 ]; then rc=1; echo "fuzz: $$t: $$n failing inputs in $$arts (log: $(FUZZ_DIR)/fuzz-$$t.log)" >&2; fi; \
	done; \
	exit $$rc
