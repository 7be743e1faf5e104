# The commands of the README: `make run`, `make run-aws` and `make test`; all set up .venv themselves.
PYTHON ?= python3
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 8000
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SOURCES := chalicelib scheduler_local awslocal client/scheduler_client client/scheduler_cli app.py tools

.PHONY: run run-aws test lint typecheck unit bench clean package checkov browser-deps screenshots provider-schema

# Two distributions: the server (this folder: chalicelib, scheduler_local, app) and the client + CLI (client/).
$(STAMP): pyproject.toml client/pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing pinned dependencies into $(VENV) (first run takes a minute)..."
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ./client -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/scheduler serve --host $(HOST) --port $(PORT)

# The AWS code path on this machine (awslocal/): moto server, the stack from terraform/, one process
# per Lambda function, API Gateway, EventBridge Scheduler and SQS drivers. Same variables as `run`.
run-aws: $(STAMP)
	HOST=$(HOST) PORT=$(PORT) $(BIN)/python -m awslocal

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check $(SOURCES)

typecheck: $(STAMP)
	$(BIN)/mypy $(SOURCES)

unit: $(STAMP) browser-deps
	$(BIN)/pytest -q tests

# The console's browser tests (tests/browser) drive Debian's chromium through chromedriver; a fresh
# machine gets both from apt (as root, as CI runs). Nothing is downloaded by Selenium itself.
browser-deps:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  echo "installing chromium and chromium-driver for the console's browser tests..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }

# Retake docs/console/*.png (the console's screenshots in docs/console.md) with the browser tests.
screenshots: $(STAMP) browser-deps
	CONSOLE_SCREENSHOTS=docs/console $(BIN)/pytest -q tests/browser

test: lint typecheck provider-schema unit checkov

bench: $(STAMP)
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) $(TOOLS_VENV) build .cache .mypy_cache .ruff_cache

# ---- AWS: the Lambda package and the Terraform checks (docs/deploy-aws.md) ---------------------
TOOLS_VENV ?= .venv-tools
TOOLS_STAMP := $(TOOLS_VENV)/.installed
CHALICE_STAGE ?= dev
PACKAGE_DIR := build/chalice

# What terraform/ deploys: build/chalice/deployment.zip (app + Linux wheels) and chalice.tf.json
# (handlers, OpenAPI body); then tools/lambda_zip.py adds bytecode and drops what Lambda never runs.
# Needs PyPI, not AWS credentials (Chalice's CLI only wants a region name).
# The region is the `region` of TFVARS, the file `terraform apply -var-file` is given (docs/deploy-aws.md).
TFVARS ?= terraform/envs/dev.tfvars
TFVARS_REGION = $(shell sed -n 's/^[[:space:]]*region[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' $(TFVARS) 2>/dev/null)
package: $(STAMP)
	@test -n "$(TFVARS_REGION)" || { echo "make package: no region = \"...\" line in $(TFVARS) (set TFVARS=<your tfvars>)"; exit 2; }
	rm -rf $(PACKAGE_DIR)
	@# Chalice zips chalicelib/ as it is on disk: bytecode caches (and folders left behind by a move) would ship too
	find chalicelib -name __pycache__ -type d -prune -exec rm -rf {} +
	find chalicelib -type d -empty -delete
	AWS_DEFAULT_REGION=$(TFVARS_REGION) $(BIN)/chalice package --pkg-format terraform --stage $(CHALICE_STAGE) $(PACKAGE_DIR)
	@# bytecode in, unused botocore models and sources out (tools/lambda_zip.py; Chalice's zip stays as chalice.zip)
	$(BIN)/python -m tools.lambda_zip $(PACKAGE_DIR)/deployment.zip

# checkov pins many packages of its own, so it gets its own virtualenv, pinned by tools-constraints.txt.
$(TOOLS_STAMP): tools-constraints.txt
	@test -x $(TOOLS_VENV)/bin/python || $(PYTHON) -m venv $(TOOLS_VENV)
	@echo '*' > $(TOOLS_VENV)/.gitignore
	$(TOOLS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
	$(TOOLS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -c tools-constraints.txt checkov
	@touch $(TOOLS_STAMP)

checkov: $(TOOLS_STAMP)
	LOG_LEVEL=ERROR $(TOOLS_VENV)/bin/checkov --directory terraform --framework terraform --skip-download --compact --quiet

# The AWS provider's schema for tests/terraform/test_provider_schema.py (no terraform binary here):
# @cdktf/provider-aws is generated from one provider release's schema (21.22.1 <- hashicorp/aws 6.25.0,
# within versions.tf's ~> 6.0). npm fetches it (pinned by version and sha512; ~37 MB), and
# tests/terraform/provider_schema.py boils its jsii assembly down to .cache/provider-aws/schema.json.
PROVIDER_PACKAGE := @cdktf/provider-aws@21.22.1
PROVIDER_TARBALL := cdktf-provider-aws-21.22.1.tgz
PROVIDER_SHA512 := BuSHeaQFUL9l33pBzIMRT7cTQ69AM2mLtijjteCPhVQRmvuhuj9Lvfymf7knAMhYqAT6+Lrls9jiGVW/Us3zrQ==
SCHEMA_DIR := .cache/provider-aws
SCHEMA := $(SCHEMA_DIR)/schema.json

provider-schema: $(SCHEMA)

$(SCHEMA): tests/terraform/provider_schema.py | $(STAMP)
	@command -v npm >/dev/null || { echo "npm is needed to fetch $(PROVIDER_PACKAGE) (apt-get install npm)"; exit 1; }
	rm -rf $(SCHEMA_DIR) && mkdir -p $(SCHEMA_DIR)
	cd $(SCHEMA_DIR) && npm pack --silent $(PROVIDER_PACKAGE) >/dev/null
	test "$$(openssl dgst -sha512 -binary $(SCHEMA_DIR)/$(PROVIDER_TARBALL) | base64 -w0)" = "$(PROVIDER_SHA512)"
	tar -xzf $(SCHEMA_DIR)/$(PROVIDER_TARBALL) -C $(SCHEMA_DIR) package/.jsii package/package.json
	$(BIN)/python -m tests.terraform.provider_schema derive $(SCHEMA_DIR)/package $(SCHEMA).tmp
	rm -rf $(SCHEMA_DIR)/package $(SCHEMA_DIR)/$(PROVIDER_TARBALL)
	mv $(SCHEMA).tmp $(SCHEMA)
