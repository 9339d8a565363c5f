# The conformance suite as a container, for running against a cluster you already have.
#
#   docker build -f images/suite.Dockerfile -t rollouts-conformance:0.1.0 .
#   docker run --rm --network host \
#     -v "$HOME/.kube/config:/config/kubeconfig:ro" -v "$PWD/reports:/reports" \
#     rollouts-conformance:0.1.0 run --runs my-rollouts:flag --backend existing --kubeconfig /config/kubeconfig \
#       --report-dir /reports --claim status-labels,metrics,analysis,rollback,ephemeral-metadata
#
# The entrypoint is the `rollouts-conformance` console script (run, list, validate-report, verdict, version);
# the default command lists what the suite checks. Exit codes: docs/report.md. The local backend (Go builds)
# and the Allure HTML (Java, npm) are not in this image: the YAML, JUnit, Allure results and the one-page
# summary are. `--network host` only where the kubeconfig's server is on the host's loopback.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml ./
COPY fixtures ./fixtures
COPY suites ./suites
COPY apps ./apps
COPY scripts ./scripts
COPY reference ./reference
RUN pip wheel --no-cache-dir --no-deps -w /dist . && rm -rf build

FROM python:3.11-slim
COPY --from=build /dist/*.whl /tmp/
RUN pip install --no-cache-dir /tmp/*.whl && rm /tmp/*.whl \
    && useradd --create-home --uid 10001 conformance \
    && mkdir /reports && chown conformance /reports
USER conformance
WORKDIR /reports
ENV PYTHONDONTWRITEBYTECODE=1 MPLBACKEND=Agg
ENTRYPOINT ["rollouts-conformance"]
CMD ["list"]
