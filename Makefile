# m2d-serve. Two set-up commands on a fresh Debian machine: `make serve` and `make test`.
SHELL := /bin/bash
# What building and serving need: the libraries m2d-server links, pkg-config, and python3-flasgger (Swagger
# UI's assets, embedded in m2d-server for /docs at build time).
SERVE_PACKAGES := libopenblas-dev libsndfile1-dev libsoxr-dev libmicrohttpd-dev libdnnl-dev pkg-config python3-flasgger
# What the tests add: python3-requests, python3-httpx and curl, real HTTP clients in the early-answer tests and
# make abuse. espeak-ng: real speech for the int8 accuracy test of the default model. python3-pytest, -numpy and
# -yaml: the Python client's tests (clients/python) and the Kubernetes manifest tests (tests/deploy). python3-venv:
# the pinned tool environments (scripts/venv.sh). haproxy and wrk: bench-cluster. chromium, chromium-driver and
# python3-selenium: the /docs page tested in a headless browser (tests/docs). libopenmpi-dev, openmpi-bin and
# iproute2: data-parallel m2d-train (mpirun) and its two-host test in network namespaces.
TEST_PACKAGES := python3-requests python3-httpx curl espeak-ng python3-pytest python3-numpy python3-yaml python3-venv \
	haproxy wrk chromium chromium-driver python3-selenium libopenmpi-dev openmpi-bin iproute2
MODEL ?= models/m2d-small-debian
PORT ?= 8080
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps deps-serve apt-install build test serve bench bench-train bench-server bench-peers bench-cluster \
	check-image hear-validate test-multihost int8-gate fuzz-server abuse clean help

help:
	@echo "make serve   install deps, build release, serve $(MODEL) on :$(PORT)"
	@echo "make test    install deps, build, run every test"
	@echo "make bench   inference-core benchmark table (OPENBLAS_CORETYPE as set, then unset)"
	@echo "make bench-train  one pre-training step vs the PyTorch reference step (kernel as set, then auto-detected)"
	@echo "make bench-server  load benchmark of m2d-server against offline m2d-embed"
	@echo "make bench-peers  ours (fp32, bf16, int8) beside PyTorch, ONNX Runtime and OpenVINO in one run (table)"
	@echo "make bench-cluster  replicas behind HAProxy: rolling restart and kill -9 under load, scaling (table)"
	@echo "make check-image  the Dockerfile's runtime stage in a debootstrap chroot: ready and one /embed as uid 10001"
	@echo "make test-multihost  mpirun m2d-train across two network-namespace hosts (veth, TCP) vs one process (root)"
	@echo "make hear-validate  HEAR 2021's hear-validator on m2d_serve.hear with $(MODEL) (torch + tensorflow venv)"
	@echo "make int8-gate  int8 against fp32 on the three evaluation tasks (probe accuracy, cosines)"
	@echo "make abuse   hostile clients and inputs at full size against the release server (table; exit 1 on a failed row)"
	@echo "make fuzz-server  schemathesis (every check) against a live server, then promtool on its /metrics"

## Installs the Debian packages that are missing (checked with dpkg -s): deps-serve those of serving, deps all.
deps-serve:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(SERVE_PACKAGES)"

deps:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(SERVE_PACKAGES) $(TEST_PACKAGES)"

apt-install:
	@missing=""; for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	  case "$$missing" in *python3-flasgger*) touch Sources/CSwaggerUI/swagger_ui.c;; esac; \
	fi

build: deps-serve
	swift build -c release

test: deps
	scripts/text-fixtures.sh
	swift build --build-tests
	swift test
	cd clients/python && PYTHONPATH=. /usr/bin/python3 -m pytest -q tests
	KUBERNETES_VALIDATE=$$(scripts/venv.sh tools)/kubernetes-validate /usr/bin/python3 -m pytest -q tests/deploy
	/usr/bin/python3 -m pytest -q tests/docs
	PYTHONPATH=clients/python $$(scripts/venv.sh tools)/python -m pytest -q tests/ray
	$$(scripts/venv.sh tools)/python -m pytest -q tests/burst
	$$(scripts/venv.sh tools)/python -m pytest -q tests/search
	BIN=.build/debug scripts/bench-cluster.sh --short
	@if [ "$$(id -u)" = 0 ]; then BIN=.build/debug scripts/test-multihost.sh; \
	else echo "test-multihost not run: ip netns needs root (make test-multihost as root)"; fi

serve: build
	@test -d "$(MODEL)" || { echo "no model at $(MODEL)"; exit 1; }
	.build/release/m2d-server --model $(MODEL) --port $(PORT)

bench: deps
	swift build -c release --product m2d-bench
	swift build -c release --product m2d-embed
	@echo "== inference core, OPENBLAS_CORETYPE=$${OPENBLAS_CORETYPE:-(unset)} (environment as is)"
	.build/release/m2d-bench core --backend openblas
	.build/release/m2d-bench core --backend onednn
	@echo; echo "== inference core, OPENBLAS_CORETYPE unset"
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .build/release/m2d-bench core --backend openblas
	@echo; echo "== 10 s clip vs PyTorch (the virtualenv of scripts/peers-venv.sh)"
	M2D_TORCH_PYTHON=$$(scripts/peers-venv.sh | tail -1) .build/release/m2d-bench compare
	@echo; echo "== M2D-CLAP text encoder (random bert-base) vs transformers on PyTorch fp32, same weights"
	scripts/text-fixtures.sh
	M2D_TORCH_PYTHON=$$(scripts/venv.sh peers)/python .build/release/m2d-bench text

bench-train: deps
	swift build -c release --product m2d-bench
	@echo "== training step, OPENBLAS_CORETYPE=$${OPENBLAS_CORETYPE:-(unset)} (environment as is)"
	M2D_TORCH_PYTHON=$$(scripts/peers-venv.sh | tail -1) .build/release/m2d-bench train --repeats 3
	@echo; echo "== training step, OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (OpenBLAS picks the kernel for this CPU)"
	M2D_TORCH_PYTHON=$$(scripts/peers-venv.sh | tail -1) env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
	  .build/release/m2d-bench train --repeats 3
	@echo; echo "== data-parallel pre-training steps: one process vs mpirun -np 2, and the scaling model"
	swift build -c release --product m2d-train
	BIN=.build/release scripts/bench-train-mpi.sh 4

bench-server: deps
	scripts/bench-server.sh

fuzz-server: deps
	scripts/fuzz-server.sh

bench-peers: deps
	scripts/bench-peers.sh

## mpirun m2d-train with one rank in each of two network namespaces (the project's own test hosts).
test-multihost: deps
	swift build
	BIN=.build/debug scripts/test-multihost.sh

## hear-validator on the HEAR module (clients/python/m2d_serve/hear.py), release build, default model.
hear-validate: build
	scripts/hear-validate.sh $(MODEL)

int8-gate: deps
	scripts/int8-gate.sh

bench-cluster: deps
	scripts/bench-cluster.sh

check-image: deps
	scripts/check-image.sh

## Attacks of the hardening issue at full size against the real release binaries (tools/abuse/abuse.py).
abuse: deps
	swift build -c release --product m2d-server
	swift build -c release --product m2d-embed
	swift build -c release --product m2d-train
	/usr/bin/python3 tools/abuse/abuse.py


clean:
	rm -rf .build
