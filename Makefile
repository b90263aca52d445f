# sampan — the two commands:  make up   |   make test
BUILD ?= build
DATA_DIR ?= /var/lib/sampan
KUBECONFIG_OUT ?= $(DATA_DIR)/kubeconfig.yaml
PYTEST = /usr/bin/python3 -m pytest

.PHONY: all deps build up down test unit e2e clean format

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

e2e: build
	SAMPAN_BIN=$(CURDIR)/$(BUILD)/sampan $(PYTEST) -q tests/e2e

# Install, build, and run every test.
test: deps build
	$(MAKE) unit
	$(MAKE) e2e

format:
	find src -name '*.h' -o -name '*.cc' | xargs clang-format -i

clean:
	rm -rf $(BUILD)
