# sampan — the two commands:  make up   |   make test
BUILD ?= build
DATA_DIR ?= /var/lib/sampan
KUBECONFIG_OUT ?= $(DATA_DIR)/kubeconfig.yaml
PYTEST = /usr/bin/python3 -m pytest

.PHONY: all deps build up down test unit e2e runtime-test oci-validation clean format

all: build

deps:
	./scripts/install-deps.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

# Install, build, and start a one-machine cluster on the embedded store.
up: deps build
	./scripts/up.sh $(BUILD)/sampan $(DATA_DIR) $(KUBECONFIG_OUT)

down:
	./scripts/down.sh $(DATA_DIR)

unit: build
	cd $(BUILD) && ctest --output-on-failure -j2 -L unit

# End-to-end: the API with the real kubectl, the runtime on real containers, images with a
# real registry on 127.0.0.1 (all as root).
e2e: build
	SAMPAN_BIN=$(CURDIR)/$(BUILD)/sampan $(PYTEST) -q tests/runtime
	SAMPAN_BIN=$(CURDIR)/$(BUILD)/sampan $(PYTEST) -q tests/images
	SAMPAN_BIN=$(CURDIR)/$(BUILD)/sampan $(PYTEST) -q tests/e2e
	# pods-e2e: pods on a node in network namespaces the tests create (needs the node agent)
	SAMPAN_BIN=$(CURDIR)/$(BUILD)/sampan $(PYTEST) -q tests/pods

# The container runtime's integration tests alone (root; busybox-static).
runtime-test: build
	SAMPAN_BIN=$(CURDIR)/$(BUILD)/sampan $(PYTEST) -q tests/runtime

# The OCI conformance suite (opencontainers/runtime-tools) against `sampan runtime`, when a git
# copy of runtime-tools is at RT_SRC; the summary goes to bench/results/runtime-oci-validation.txt.
RT_SRC ?= /work/.mirror/opencontainers+runtime-tools/repo
OCI_VALIDATION ?= ../shared/tools/oci-validation.sh
oci-validation: build
	@if [ ! -e "$(RT_SRC)" ]; then echo "oci-validation: no runtime-tools repository at RT_SRC=$(RT_SRC); skipped"; exit 0; fi; \
	printf '#!/bin/sh\nexec %s runtime "$$@"\n' "$(CURDIR)/$(BUILD)/sampan" > $(BUILD)/sampan-oci-runtime && \
	chmod +x $(BUILD)/sampan-oci-runtime && \
	RT_SRC=$(RT_SRC) RUNTIME=$(CURDIR)/$(BUILD)/sampan-oci-runtime $(OCI_VALIDATION) | tee bench/results/runtime-oci-validation.txt

# Install, build, and run every test.
test: deps build
	$(MAKE) unit
	$(MAKE) e2e

format:
	find src -name '*.h' -o -name '*.cc' | xargs clang-format -i

clean:
	rm -rf $(BUILD)
