# The two commands: `make run` (the daemon) and `make test` (every test).
# Both install what is missing first (scripts/install-deps.sh).
SHELL := /bin/bash
SWIFT_TEST_FLAGS ?=
# Suites that load the whole machine (worker fleets, 1,000 jobs) live in
# Tests/MediaWorkerTests/MachineLoad/: they run after the others, not beside their timing bounds.
HEAVY_SUITES := $(shell scripts/test/suites-in.sh Tests/MediaWorkerTests/MachineLoad)

.PHONY: run test chaos soak soak-dashboard deps build build-debug fixtures contracts lua dashboard clean

run: build
	@scripts/run-local.sh

test: deps fixtures
	scripts/test/luacheck.sh
	swift build --build-tests
	@# Test servers keep their temp dirs under a per-run TMPDIR: the leftover check looks only there.
	@run_tmp=$$(mktemp -d /tmp/mw-run.XXXXXX); status=0; \
	  TMPDIR=$$run_tmp swift test --skip '$(HEAVY_SUITES)' $(SWIFT_TEST_FLAGS) || status=$$?; \
	  TMPDIR=$$run_tmp swift test --skip-build --filter '$(HEAVY_SUITES)' || status=$$?; \
	  scripts/test/check-no-leftovers.sh $$run_tmp || status=1; \
	  rm -rf $$run_tmp; \
	  scripts/test/shim-leak-check.sh || status=1; \
	  Fuzz/run.sh || status=1; exit $$status

# The full chaos run (make test runs a shorter one): 300 jobs, 4 workers, kills, redis restart and pause.
chaos: deps fixtures
	swift build --build-tests
	@run_tmp=$$(mktemp -d /tmp/mw-run.XXXXXX); status=0; \
	  TMPDIR=$$run_tmp MW_CHAOS_JOBS=300 MW_CHAOS_SECONDS=90 swift test --skip-build --filter ChaosTests || status=$$?; \
	  scripts/test/check-no-leftovers.sh $$run_tmp || status=1; \
	  rm -rf $$run_tmp; exit $$status

# The protocol checker for as long as asked (make test runs 120 schedules): random schedules of
# workers, janitor, producers and operators with faults, from a seed printed first.
SOAK_SECONDS ?= 1800
soak: deps
	swift build --build-tests
	@seed=$$(date +%s)000; echo "soak: $(SOAK_SECONDS) s of protocol checker schedules from seed $$seed"; \
	  MW_CHECKER_SECONDS=$(SOAK_SECONDS) MW_CHECKER_FIRST_SEED=$$seed swift test --skip-build --filter ProtocolCheckerTests

# The dashboard under the route fuzzer for as long as asked (make test sends 1,500 requests per
# dashboard), beside a pool of two workers that a producer keeps busy.
DASHBOARD_SOAK_SECONDS ?= 600
soak-dashboard: deps
	swift build --build-tests
	MW_DASHBOARD_FUZZ_SECONDS=$(DASHBOARD_SOAK_SECONDS) swift test --skip-build --filter DashboardHostileTests

deps:
	@scripts/install-deps.sh

build: deps
	swift build -c release --product media-worker

build-debug: deps
	swift build

fixtures: deps
	@Fixtures/generate.sh

# After editing contracts/: the worker carries the schemas compiled in (a test checks they match).
contracts:
	@scripts/embed-contracts.py

# After editing Sources/QueueClient/Lua/: the worker carries the scripts embedded (a test and
# scripts/test/luacheck.sh check they match).
lua:
	@scripts/embed-lua.py

# After editing Sources/MediaWorker/Dashboard/Templates or Assets: embedded the same way.
dashboard:
	@scripts/embed-dashboard.py

clean:
	rm -rf .build Fixtures/.cache
