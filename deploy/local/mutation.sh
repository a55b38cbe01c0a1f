#!/usr/bin/env bash
# Mutation testing of the rule modules with mutmut (docs/mutation.md). Slow; not part of `make test`.
#
#   deploy/local/mutation.sh            every module below, one after the other
#   deploy/local/mutation.sh levels     one module (names as in the table below)
#   deploy/local/mutation.sh list       the modules, their mutants and their tests
#   deploy/local/mutation.sh levels --survivors
#                                       rerun only the mutants the last run of levels left alive
#                                       (after adding tests; the others stay killed)
#
# Each module runs in its own folder .cache/mutation/NAME (links to the packages and tests, and
# this project's pyproject.toml with a [tool.mutmut] section appended), so each mutant runs only
# the fast unit tests of its own module, never the Kafka or Prometheus tests. mutmut copies the
# packages whole into NAME/mutants (the native reader included) and mutates only the module's
# files; of those tests, a mutant runs the ones that called the mutated function. At most
# MUTATION_WORKERS (default 2) forked workers: the machine is shared. Ends with
# NAME: killed/total and the surviving mutants; `cd .cache/mutation/NAME && mutmut show M`
# prints one as a diff.
set -euo pipefail -f  # -f: the mutant name patterns must reach mutmut unexpanded

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
self="$root/deploy/local/mutation.sh"
tool=mutation
# shellcheck source=deploy/local/common.sh
source "$root/deploy/local/common.sh"

# NAME | files to mutate | mutant names to run (fnmatch) | tests (doctests: the module itself)
modules="
levels|monitor/evaluate/levels.py|monitor.evaluate.levels.*|tests/test_levels.py monitor/evaluate/levels.py
checks|monitor/evaluate/checks.py|monitor.evaluate.checks.*|tests/test_checks.py tests/test_closing.py
closing|monitor/evaluate/closing.py monitor/evaluate/check_states.py monitor/sinks/window_lines.py|monitor.evaluate.closing.* monitor.evaluate.check_states.* monitor.sinks.window_lines.*|tests/test_closing.py monitor/evaluate/check_states.py
join|monitor/join/label_join.py|monitor.join.label_join.*|tests/test_label_join.py monitor/join/label_join.py
windows|monitor/window/windower.py|monitor.window.windower.*|tests/test_windows.py monitor/window/windower.py
watermark|monitor/window/watermark.py|monitor.window.watermark.*|tests/test_watermark.py monitor/window/watermark.py
state|monitor/state/snapshot.py monitor/state/checkpoint.py|monitor.state.snapshot.* monitor.state.checkpoint.*|tests/test_state.py tests/test_checkpoint.py monitor/state/checkpoint.py
statistics|detectors/statistics.py|detectors.statistics.*|tests/test_statistics.py tests/test_batched_scoring.py::test_windows_of_two_models_equal_each_subject_scored_against_its_segment tests/test_batched_scoring.py::test_canary_comparisons_equal_each_subject_against_the_stable_window_alone detectors/statistics.py
thresholds|detectors/thresholds.py|detectors.thresholds.*|tests/test_thresholds.py detectors/thresholds.py
rules|monitor/decode/rules.py|monitor.decode.rules.*|tests/test_decode.py tests/test_decode_table.py tests/test_decode_timestamps.py tests/test_decode_hostile.py::test_flat_file_columns_of_any_arrow_type_are_events_or_rejects
metrics|monitor/sinks/latest_windows.py|monitor.sinks.latest_windows.*|tests/test_metrics.py monitor/sinks/latest_windows.py
"

toml_list() { printf '"%s", ' "$@" | sed 's/, $//'; }

run_module() {
  local name=$1 files=$2 filter=$3 tests=$4
  local work="$root/.cache/mutation/$name" run=$3
  mkdir -p "$work"
  for link in monitor detectors baselines tests; do
    ln -sfn "$root/$link" "$work/$link"
  done
  # shellcheck disable=SC2086  # the table's fields are space-separated lists
  {
    cat "$root/pyproject.toml"
    echo
    echo "[tool.mutmut]"
    echo 'source_paths = ["monitor", "detectors"]'
    echo "only_mutate = [$(toml_list $files)]"
    echo "pytest_add_cli_args_test_selection = [$(toml_list $tests)]"
  } >"$work/pyproject.toml"
  if [ "$survivors" = 1 ]; then
    # shellcheck disable=SC2086
    run=$(summarise "$name" "$work" $filter | awk 'NR > 1 { print $1 }')
    [ -n "$run" ] || { say "$name: no survivors to rerun"; return; }
  fi
  say "$name: mutating $files against $tests"
  # shellcheck disable=SC2086
  (cd "$work" && OPENBLAS_NUM_THREADS=1 "$root/.venv/bin/mutmut" run \
    --max-children "${MUTATION_WORKERS:-2}" $run >"$work/run.log" 2>&1) ||
    die "$name: mutmut failed, see $work/run.log"
  summarise "$name" "$work" $filter
}

# killed/total over the module's mutants, then each mutant that wasn't killed
summarise() {
  local name=$1 work=$2
  shift 2
  (cd "$work" && "$root/.venv/bin/mutmut" results --all true) |
    awk -v name="$name" -v filters="$*" '
      BEGIN { n = split(filters, f, " ") }
      {
        key = $1; sub(/:$/, "", key); status = $2
        for (i = 1; i <= n; i++) {
          pattern = f[i]; gsub(/\./, "\\.", pattern); gsub(/\?/, "..?", pattern)
          gsub(/\*/, ".*", pattern)
          if (key ~ "^" pattern "$") {
            total++
            if (status == "killed") killed++
            else { rest = $0; sub(/^ *[^ ]+ /, "", rest); lines = lines "  " key " " rest "\n" }
            break
          }
        }
      }
      END { printf "%s: %d/%d killed\n%s", name, killed, total, lines }'
}

[ -x "$root/.venv/bin/mutmut" ] || die "no .venv/bin/mutmut; run deploy/local/bootstrap.sh"
want=${1:-all}
survivors=0
[ "${2:-}" = --survivors ] && survivors=1
[ "$want" = "-h" ] || [ "$want" = "--help" ] && usage
found=
while IFS='|' read -r name files filter tests; do
  [ -n "$name" ] || continue
  if [ "$want" = list ]; then
    printf '%-10s %s (%s)\n%-10s tests: %s\n' "$name" "$files" "$filter" "" "$tests"
  elif [ "$want" = all ] || [ "$want" = "$name" ]; then
    found=1
    run_module "$name" "$files" "$filter" "$tests"
  fi
done <<<"$modules"
[ "$want" = list ] || [ -n "$found" ] || die "no module named $want; see: $self list"
