# syntax=docker/dockerfile:1
# The conformance suite as a container, for running against a cluster you already have (docs/container-image.md).
#
#   docker build -f images/suite.Dockerfile -t rollouts-conformance:0.1.0 .
#   docker run --rm --network host \
#     -v "$HOME/.kube/config:/config/kubeconfig:ro" -v "$PWD/reports:/reports" \
#     rollouts-conformance:0.1.0 run --runs my-rollouts:flag --backend existing --kubeconfig /config/kubeconfig \
#       --demo-image registry.example.com/rollouts-conformance/demo-app \
#       --report-dir /reports --claim status-labels,metrics,analysis,rollback,ephemeral-metadata
#
# The entrypoint is the `rollouts-conformance` console script (run, list, validate-report, verdict, version);
# the default command lists what the suite checks. Exit codes: docs/report.md. `--network host` only where the
# kubeconfig's server is on the host's loopback.
#
# What an in-cluster run needs besides the Python package is built here, by the suite's own builder
# (fixtures/artifacts/build.py) in a stage with Go, into the cache folder the suite reads
# ($ROLLOUTS_CONFORMANCE_CACHE), so the final image needs no Go: upstream's install.yaml (`--controller install`),
# the kubectl-argo-rollouts plugin (SPEC LBL-10 runs its `undo`) and kubectl (the port-forward to the Prometheus
# the suite installs). Not in it: the local backend (the control plane's Go builds) and the Allure HTML (Java,
# npm); the YAML, JUnit, Allure results and the one-page summary are. The demo app's image is not either: the
# cluster's nodes pull it from a registry you push apps/demo's image to (`--demo-image`).

# Keep GO_IMAGE in step with images/rollouts-reference.Dockerfile (the Go fixtures/artifacts/versions.py names).
ARG GO_IMAGE=golang:1.26.8-bookworm
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${GO_IMAGE} AS go

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml ./
COPY fixtures ./fixtures
COPY suites ./suites
COPY apps ./apps
COPY scripts ./scripts
COPY reference ./reference
RUN pip wheel --no-cache-dir --no-deps -w /dist . && rm -rf build

FROM build AS artifacts
COPY --from=go /usr/local/go /usr/local/go
ENV PATH=/usr/local/go/bin:$PATH ROLLOUTS_CONFORMANCE_CACHE=/opt/rollouts-conformance/cache
# The builder prints "name<TAB>path" per artifact; the two commands go on PATH as links into the cache.
RUN python -m fixtures.artifacts.build --only rollouts-manifests --only rollouts-plugin --only kubectl \
      > /opt/rollouts-conformance/artifacts.tsv \
 && mkdir -p /opt/rollouts-conformance/bin \
 && for tool in kubectl kubectl-argo-rollouts; do \
      ln -s "$(awk -F '\t' -v t="$tool" '$1 == t {print $2}' /opt/rollouts-conformance/artifacts.tsv)" \
        "/opt/rollouts-conformance/bin/$tool" \
      && test -x "/opt/rollouts-conformance/bin/$tool" || { echo "no $tool in the builder's output" >&2; exit 1; }; done

FROM ${PYTHON_IMAGE}
COPY --from=build /dist/*.whl /tmp/
RUN pip install --no-cache-dir /tmp/*.whl && rm /tmp/*.whl \
    && useradd --create-home --uid 10001 conformance \
    && mkdir /reports && chown conformance /reports
# Owned by the user the suite runs as: the builder takes a lock file beside each artifact even on a cache hit.
COPY --from=artifacts --chown=conformance:conformance /opt/rollouts-conformance /opt/rollouts-conformance
USER conformance
WORKDIR /reports
ENV PYTHONDONTWRITEBYTECODE=1 MPLBACKEND=Agg ROLLOUTS_CONFORMANCE_CACHE=/opt/rollouts-conformance/cache \
    PATH=/opt/rollouts-conformance/bin:$PATH
ENTRYPOINT ["rollouts-conformance"]
CMD ["list"]
