# synmix — the two newcomer commands are `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := build

APT_PACKAGES := libpng-dev libjpeg-dev libdeflate-dev libopenblas-dev libssl-dev zlib1g-dev libcairo2-dev libcmark-gfm-dev libcmark-gfm-extensions-dev fonts-dejavu-core pkg-config python3-venv
VENV := .venv
PYTHON := $(VENV)/bin/python
CONFIG ?= release
BIN = .build/$(CONFIG)

.PHONY: deps venv build install install-files test demo bench fuzz fixtures clean

## deps: install the Debian packages synmix builds on, only those missing.
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

## venv: the Python side (python/synmix_torch with torch and torchvision) and the peers of the
## interoperability tests and benchmarks, all from plain PyPI (about 2 minutes and 5.6 GB on a fresh machine).
venv: $(VENV)/.installed
$(VENV)/.installed: Tests/interop/requirements.txt | deps
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install -q -r Tests/interop/requirements.txt
	touch $@

build: deps
	swift build -c $(CONFIG)

## install: the tools into PREFIX/bin and the default mappings into PREFIX/share/synmix/mappings, where
## the tools look for them; then they run by bare name from any folder.
PREFIX ?= /usr/local
TOOLS := harmonize filter-instances pack-mix train-shards synmix-generate synmix-demo
install: build
	$(MAKE) --no-print-directory install-files
# install-files: install's copying alone, from BIN (the installed-tools test runs it on the test build).
install-files:
	install -d $(PREFIX)/bin $(PREFIX)/share/synmix
	install -m 755 $(addprefix $(BIN)/,$(TOOLS)) $(PREFIX)/bin/
	rm -rf $(PREFIX)/share/synmix/mappings.tmp && cp -R mappings $(PREFIX)/share/synmix/mappings.tmp
	rm -rf $(PREFIX)/share/synmix/mappings && mv $(PREFIX)/share/synmix/mappings.tmp $(PREFIX)/share/synmix/mappings

## test: the whole suite, with the Python interop checks enabled.
test: deps venv
	swift build --build-tests
	swift build -c release --product train-shards   # the training tests drive the optimized binary
	SYNMIX_PYTHON=$(abspath $(PYTHON)) swift test --skip-build --disable-swift-testing
	PYTHONPATH=python OMP_NUM_THREADS=2 $(PYTHON) -m pytest -q python/tests

## demo: the mixed-training experiment end to end on a generated benchmark (QUICK=1: a smaller one).
demo: build
	$(BIN)/synmix-demo --out demo-out$(if $(QUICK),-quick --preset quick,)

## bench: throughput and memory of each stage (results also in bench-data/*.md).
bench: build venv
	bash Benchmarks/harmonize.sh
	bash Benchmarks/filter.sh
	bash Benchmarks/pack.sh
	bash Benchmarks/evaluation.sh
	bash Benchmarks/train.sh
	bash Benchmarks/loader.sh
	bash Benchmarks/detector.sh

## fuzz: every reader of outside bytes (PNG, JPEG, tar, manifest, sample, index, Synscapes meta,
## prediction files, safetensors checkpoints, merge part indexes) driven with mutated inputs for FUZZ_SECONDS each, FUZZ_JOBS at a time. Each input
## is written to fuzz-out/current-READER before it runs, so a crash leaves its reproducer there.
FUZZ_SECONDS ?= 600
FUZZ_JOBS ?= 2
FUZZ_TESTS := PNGDecoderSurvivesMutatedImages JPEGDecoderSurvivesMutatedImages TarReadersSurviveMutatedShards \
	ManifestRecordParserSurvivesMutatedLines SampleRecordParserSurvivesMutatedJSON ShardIndexParserSurvivesMutatedJSON \
	SynscapesMetaReaderSurvivesMutatedFiles PredictionFileReaderSurvivesMutatedFiles \
	SafetensorsHeaderReaderSurvivesMutatedFiles PartIndexParserSurvivesMutatedFiles
fuzz: deps
	swift build --build-tests
	rm -rf fuzz-out && mkdir -p fuzz-out
	# A copy of the test binary, run directly: SwiftPM would run one `swift test` at a time, and a rebuild
	# meanwhile must not replace the binary under a running fuzzer.
	cp .build/debug/synmixPackageTests.xctest fuzz-out/tests.xctest
	printf '%s\n' $(FUZZ_TESTS) | xargs -P $(FUZZ_JOBS) -I{} sh -c 'SYNMIX_FUZZ_SECONDS=$(FUZZ_SECONDS) SYNMIX_FUZZ_DIR=fuzz-out \
	  fuzz-out/tests.xctest "FuzzTests.ReaderFuzzTests/test{}" > fuzz-out/{}.log 2>&1 \
	  || echo "FAILED: {} (log: fuzz-out/{}.log; its last input: fuzz-out/current-*)"'
	@grep -h "^fuzz " fuzz-out/*.log | tee fuzz-out/summary.txt
	@! grep -l "error:\|Fatal\|signal" fuzz-out/*.log

## fixtures: regenerate fixtures/ (deterministic: the same bytes every time).
fixtures: build
	rm -rf fixtures && $(BIN)/synmix-generate fixtures --out fixtures

clean:
	rm -rf .build out bench-data demo-out fuzz-out
