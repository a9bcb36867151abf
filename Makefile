# The two commands: `make run` (the daemon) and `make test` (every test).
# Both install what is missing first (scripts/install-deps.sh).
SHELL := /bin/bash
SWIFT_TEST_FLAGS ?=

.PHONY: run test deps build build-debug fixtures clean

run: build
	@scripts/run-local.sh

test: deps fixtures
	swift build --build-tests
	swift test $(SWIFT_TEST_FLAGS)
	@scripts/test/check-no-leftovers.sh

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
