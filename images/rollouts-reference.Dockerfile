# syntax=docker/dockerfile:1
# Our reference Argo Rollouts controller (--enable-canary-status-labels), for the kind/k3s backends.
#
# Built exactly as fixtures/artifacts/build.py builds it for the local backend: upstream's Go module at
# the pinned version from the Go module proxy (no git clone), a writable copy, our patch applied with
# `git apply` (no fuzz: it fails when upstream moved), `go build ./cmd/rollouts-controller` with the
# same version stamps. The final stage is shaped like upstream's image: distroless static, the
# binary at /bin/rollouts-controller, USER 999, WORKDIR /home/argo-rollouts.
#
# The context is reference/ (the patch is all it needs):
#   docker build -f images/rollouts-reference.Dockerfile \
#     -t rollouts-conformance/argo-rollouts-reference:v1.10.1 reference
# or `python -m fixtures.images build --only reference` (both tags, pinned version).

ARG GO_IMAGE=golang:1.26.8-bookworm
ARG BASE_IMAGE=gcr.io/distroless/static-debian12

FROM ${GO_IMAGE} AS build
# Keep in step with fixtures/artifacts/versions.py ARGO_ROLLOUTS (python -m fixtures.images passes it).
ARG ARGO_ROLLOUTS_VERSION=v1.10.1
ENV CGO_ENABLED=0 GOTOOLCHAIN=local GOWORK=off GOFLAGS=-buildvcs=false
COPY enable-canary-status-labels.patch /build/enable-canary-status-labels.patch
# The module from the proxy, then a writable copy (the module cache is read-only).
RUN go mod download "github.com/argoproj/argo-rollouts@${ARGO_ROLLOUTS_VERSION}" \
 && cp -r "$(go env GOMODCACHE)/github.com/argoproj/argo-rollouts@${ARGO_ROLLOUTS_VERSION}" /build/src \
 && chmod -R u+w /build/src
WORKDIR /build/src
# Check first, then apply; then make sure every file the patch names is there.
RUN git apply -p1 --whitespace=nowarn --check /build/enable-canary-status-labels.patch \
 && git apply -p1 --whitespace=nowarn /build/enable-canary-status-labels.patch \
 && for f in $(sed -n 's|^+++ b/||p' /build/enable-canary-status-labels.patch); do \
      test -f "$f" || { echo "the patch was not applied: $f is missing" >&2; exit 1; }; done
# Version string: <upstream version>+canary-status-labels.<first 12 hex of the patch's sha256>,
# the same as the local build's (fixtures/artifacts/build.py build_rollouts_reference).
RUN version="${ARGO_ROLLOUTS_VERSION}+canary-status-labels.$(sha256sum /build/enable-canary-status-labels.patch | cut -c1-12)" \
 && pkg=github.com/argoproj/argo-rollouts/utils/version \
 && go build -v -ldflags "-X ${pkg}.version=${version} -X ${pkg}.gitTag=${version} -X ${pkg}.gitCommit=gomodule-${ARGO_ROLLOUTS_VERSION} -X ${pkg}.gitTreeState=clean" \
      -o /out/rollouts-controller ./cmd/rollouts-controller \
 && echo "${version}" > /out/VERSION

FROM ${BASE_IMAGE}
COPY --from=build /out/rollouts-controller /bin/rollouts-controller
# Numeric user, as upstream's: lets Kubernetes check runAsNonRoot.
USER 999
WORKDIR /home/argo-rollouts
ENTRYPOINT ["/bin/rollouts-controller"]
