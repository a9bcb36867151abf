# The two commands: `make run` (the daemon) and `make test` (every test).
# Both install what is missing first (scripts/install-deps.sh).
SHELL := /bin/bash
SWIFT_TEST_FLAGS ?=

.PHONY: run test deps build build-debug fixtures clean

run: build
	@scripts/run-local.sh

test: deps fixtures
	swift build --build-tests
	@# Test servers keep their temp dirs under a per-run TMPDIR: the leftover check looks only there.
	@run_tmp=$$(mktemp -d /tmp/mw-run.XXXXXX); status=0; \
	  TMPDIR=$$run_tmp swift test $(SWIFT_TEST_FLAGS) || status=$$?; \
	  scripts/test/check-no-leftovers.sh $$run_tmp || status=1; \
	  rm -rf $$run_tmp; exit $$status

deps:
	@scripts/install-deps.sh

build: deps
	swift build -c release --product media-worker

build-debug: deps
	swift build

fixtures: deps
	@Fixtures/generate.sh

clean:
	rm -rf .build Fixtures/.cache
