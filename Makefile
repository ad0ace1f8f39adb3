# Switchboard. `make run` for a local server, `make test` for the test suite.
SHELL := /bin/bash
GO ?= go
# make run: its own PostgreSQL and Redis under .local/dev
DEV_PG ?= 25432
DEV_REDIS ?= 26379
# make test: a separate pair under .local/test (fsync off: tests only)
TEST_PG ?= 25433
TEST_REDIS ?= 26380

# Opus for browser calls comes from libopus through cgo (Debian: libopus-dev);
# where pkg-config finds it, everything builds and tests with -tags opus.
# Without it the build is pure Go and browsers get G.711. GOTAGS= turns it off.
GOTAGS ?= $(shell pkg-config --exists opus 2>/dev/null && echo opus)
TAGS := $(if $(GOTAGS),-tags $(GOTAGS))

.PHONY: run build test bench crash-bench stop fmt vet

build:
	$(GO) build $(TAGS) -o bin/switchboard ./cmd/switchboard

run: build
	@eval "$$(scripts/stack.sh start dev $(DEV_PG) $(DEV_REDIS) on)" && \
	export SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE=$${SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE:-true} && \
	export SWITCHBOARD_MASTER_KEY=$${SWITCHBOARD_MASTER_KEY:-$$(scripts/dev-master-key.sh)} && \
	./bin/switchboard migrate && \
	scripts/dev-account.sh && \
	exec ./bin/switchboard serve

test:
	@eval "$$(scripts/stack.sh start test $(TEST_PG) $(TEST_REDIS) off)" && \
	$(GO) vet $(TAGS) ./... && \
	$(GO) test $(TAGS) -p 1 -count=1 -timeout 20m ./... && \
	$(GO) test -run '^$$' -fuzz FuzzDecodeSendRequest -fuzztime 20s ./api/

bench: build
	scripts/bench.sh

# The voice benchmark: the engine in-process (1,000 concurrent sessions), the
# TTS cache, then 1,000 sandbox calls against a server (scripts/bench-voice.sh).
.PHONY: bench-voice
bench-voice: build
	SWITCHBOARD_VOICE_BENCH=1 $(GO) test -count=1 -run TestConcurrentCalls -v ./voicebot/
	$(GO) test -count=1 -run '^$$' -bench . ./voicebot/tts
	scripts/bench-voice.sh

stop:
	-scripts/stack.sh stop dev
	-scripts/stack.sh stop test
	-scripts/stack.sh stop bench

fmt:
	gofmt -w .

vet:
	$(GO) vet $(TAGS) ./...

# Kill a worker with SIGKILL mid-batch under the default lease/sweep settings
# and report how long its orphaned deliveries took to resume.
crash-bench:
	@eval "$$(scripts/stack.sh start test $(TEST_PG) $(TEST_REDIS) off)" && \
	SWITCHBOARD_CRASH_BENCH=1 $(GO) test $(TAGS) -count=1 -v -run TestCrashRecoveryDefaults -timeout 10m ./cmd/switchboard/

# The browser-call benchmark: 200 pion PeerConnections through a bot flow
# against a server with espeak prompts (scripts/bench-rtc.sh; CALLS, RAMP).
.PHONY: bench-rtc
bench-rtc: build
	scripts/bench-rtc.sh
