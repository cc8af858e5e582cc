# tegata's build and test entry points. `make test` is the README's test command and
# what .ci/run calls: it installs what the tests need, then runs every test.

GO ?= go
DEBIAN_PACKAGES := curl jq iproute2 wrk procps openssl postgresql nginx acl \
	samba-ad-dc samba-ad-provision krb5-user ldap-utils chromium chromium-driver
FUZZTIME ?= 20s

.PHONY: all build test test-unit deps fuzz bench vet clean

all: build

build:
	$(GO) build -o bin/tegata ./cmd/tegata

## deps: install the programs the integration tests drive (Debian packages, as root).
deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing Debian packages:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
		else \
			echo "not root: cannot install$$missing; integration tests that need them will skip (or fail with TEGATA_REQUIRE_INTEGRATION=1)"; \
		fi; \
	fi
	$(GO) mod download

## test: every test: unit, integration (curl, network namespaces), fuzz seeds.
test: deps vet
	$(GO) test -race -count=1 -timeout 20m ./...

## test-unit: the fast tests only, no outside programs.
test-unit:
	$(GO) test -short ./...

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...

## fuzz: run each fuzz target for FUZZTIME.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseQuery$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./internal/imds/
	$(GO) test -run '^$$' -fuzz '^FuzzServe$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./internal/imds/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./internal/instance/
	$(GO) test -run '^$$' -fuzz '^FuzzParseStartRequests$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./internal/events/
	$(GO) test -run '^$$' -parallel 1 -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./attest/
	$(GO) test -run '^$$' -parallel 1 -fuzz '^FuzzParseDER$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./attest/
	$(GO) test -run '^$$' -parallel 1 -fuzz '^FuzzParseDocument$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./attest/
	$(GO) test -run '^$$' -parallel 1 -fuzz '^FuzzFastPath$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./attest/
	$(GO) test -run '^$$' -parallel 1 -fuzz '^FuzzStrictJSON$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./attest/
	$(GO) test -run '^$$' -fuzz '^FuzzParseImport$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./internal/certkit/
	$(GO) test -run '^$$' -fuzz '^FuzzParseMergeChain$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./internal/certkit/
	$(GO) test -run '^$$' -fuzz '^FuzzParseSubject$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./internal/certkit/
	$(GO) test -run '^$$' -fuzz '^FuzzValidate$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./internal/vault/auth/
	$(GO) test -run '^$$' -fuzz '^FuzzServe$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./internal/vault/
	$(GO) test -run '^$$' -fuzz '^FuzzParseCertificate$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./mapping/
	$(GO) test -run '^$$' -fuzz '^FuzzParseAltSecID$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./mapping/
	$(GO) test -run '^$$' -fuzz '^FuzzParseSID$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./mapping/
	$(GO) test -run '^$$' -fuzz '^FuzzRenderNameDirect$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./mapping/
	$(GO) test -run '^$$' -fuzz '^FuzzZuluTime$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./mapping/
	$(GO) test -run '^$$' -fuzz '^FuzzCalendarDigits$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./mapping/
	$(GO) test -run '^$$' -fuzz '^FuzzParseLDIF$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./internal/mapaudit/
	$(GO) test -run '^$$' -fuzz '^FuzzParseCertutilCSV$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./internal/mapaudit/
	$(GO) test -run '^$$' -fuzz '^FuzzParseReg$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./internal/mapaudit/
	$(GO) test -run '^$$' -fuzz '^FuzzParseDCDeclarations$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./internal/mapaudit/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeCertificates$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./internal/mapaudit/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodePEMBlock$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./internal/mapaudit/
	$(GO) test -run '^$$' -fuzz '^FuzzFindingJSON$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./internal/mapaudit/
	$(GO) test -run '^$$' -fuzz '^FuzzServerNTLMTokens$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./internal/mapaudit/ldapdir/
	$(GO) test -run '^$$' -fuzz '^FuzzParseSettings$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./internal/agent/
	$(GO) test -run '^$$' -fuzz '^FuzzParseRetryAfter$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./internal/renew/notify/
	$(GO) test -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./internal/renew/notify/

## bench: Go benchmarks, then the wrk comparison against the floor server.
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./internal/...
	./bench/imds.sh
	./bench/vault.sh

clean:
	rm -rf bin .tegata
