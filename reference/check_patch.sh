#!/usr/bin/env bash
# Apply enable-canary-status-labels.patch to a copy of an Argo Rollouts module and verify it:
# build the controller, check the flag is there, run our unit tests.
#
# usage: check_patch.sh MODULE_DIR WORK_DIR [--vet] [--full-rollout-tests]
#   MODULE_DIR  e.g. /root/go/pkg/mod/github.com/argoproj/argo-rollouts@v1.10.1 (left untouched)
#   WORK_DIR    scratch dir; WORK_DIR/src is replaced by a fresh copy of MODULE_DIR
#   --vet                 also run go vet on the touched packages
#   --full-rollout-tests  also run upstream's ./rollout/ and ./utils/... test suites (several minutes)
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 MODULE_DIR WORK_DIR [--vet] [--full-rollout-tests]" >&2
  exit 2
fi
module_dir=$(cd "$1" && pwd)
mkdir -p "$2"
work_dir=$(cd "$2" && pwd)
shift 2
vet=0
full=0
for arg in "$@"; do
  case "$arg" in
    --vet) vet=1 ;;
    --full-rollout-tests) full=1 ;;
    *) echo "unknown option: $arg" >&2; exit 2 ;;
  esac
done

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
patch="$here/enable-canary-status-labels.patch"
src="$work_dir/src"
bin="$work_dir/rollouts-controller"

step() { printf '==> [%s] %s\n' "$(date +%H:%M:%S)" "$*"; }

step "copying $module_dir -> $src"
rm -rf "$src"
cp -r "$module_dir" "$src"
chmod -R u+w "$src"

cd "$src"
# If $src lies inside some git work tree (e.g. under a project checkout), git apply would
# treat it as a subdirectory of that repo and silently skip every file ("Skipped patch",
# exit 0). Stop repository discovery at the parent of $src so it works as in a plain dir.
export GIT_CEILING_DIRECTORIES
GIT_CEILING_DIRECTORIES=$(dirname "$src")
step "git apply --check $patch"
git apply --check -p1 "$patch"
step "git apply"
git apply -p1 "$patch"
# belt and braces: make sure the patch really landed
test -f rollout/canarystatuslabels.go
grep -q 'enable-canary-status-labels' cmd/rollouts-controller/main.go
grep -q 'canaryStatusLabelsApply' rollout/ephemeralmetadata.go
grep -q 'canaryEphemeralMetadata' rollout/sync.go
grep -q 'liveTemplateMatchesRollout' rollout/sync.go
grep -q 'removeUndoneCanaryStatusMetadata' rollout/controller.go
grep -q 'experimentPodTemplate' rollout/experiment.go
test -f cmd/rollouts-controller/canarystatuslabels_test.go

step "gofmt check of touched files"
unformatted=$(gofmt -l cmd/rollouts-controller/main.go cmd/rollouts-controller/canarystatuslabels_test.go \
  rollout/ephemeralmetadata.go rollout/sync.go rollout/controller.go rollout/experiment.go \
  rollout/canarystatuslabels.go rollout/canarystatuslabels_test.go)
if [ -n "$unformatted" ]; then
  echo "not gofmt-clean: $unformatted" >&2
  exit 1
fi

# CGO off for the tests too: they then share the compiled packages of the controller build.
export CGO_ENABLED=0
step "go build ./cmd/rollouts-controller -> $bin"
CGO_ENABLED=0 go build -o "$bin" ./cmd/rollouts-controller

step "flag present in --help"
"$bin" --help | grep -- '--enable-canary-status-labels'

if [ "$vet" = 1 ]; then
  step "go vet ./rollout/ ./controller/ ./cmd/rollouts-controller/"
  go vet ./rollout/ ./controller/ ./cmd/rollouts-controller/
fi

step "go test ./rollout/ ./cmd/rollouts-controller/ -run TestCanaryStatusLabels -count=1 -v"
# pipefail makes a test failure fail the script; the log is kept for inspection
go test ./rollout/ ./cmd/rollouts-controller/ -run 'TestCanaryStatusLabels' -count=1 -v 2>&1 \
  | tee "$work_dir/canarystatuslabels-test.log" | grep -E '^(--- |PASS|FAIL|ok |panic)'

step "upstream ephemeral-metadata tests still pass"
go test ./rollout/ -run 'EphemeralMetadata' -count=1

if [ "$full" = 1 ]; then
  step "go test ./rollout/ ./utils/... -count=1 (upstream's suites)"
  go test ./rollout/ ./utils/... -count=1
fi

step "OK: patch applies, controller builds, tests pass"
