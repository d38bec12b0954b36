# shellcheck shell=bash
# The harness's reports, sourced by deploy/test/backup-restore-smoke.sh:
# the summary table on stdout and, with SMOKE_REPORT_DIR, report.json and
# junit.xml. All three are made from the same records: one JSON line per
# combination in WORK/results.jsonl (combo_record writes them). They use the
# harness's globals (WORK, REPORT_DIR, MAINT_DB, STARTED_AT, REPO) and
# helpers (sql, run_tool, say, fail, oracle_report_json).

server_major() {
  sql "$MAINT_DB" -c 'SHOW server_version_num' | awk '{ print int($1 / 10000) }'
}

# The summary table on stdout and, with SMOKE_REPORT_DIR, report.json and
# junit.xml: the evidence an auditor can keep.
write_reports() {
  print_summary "$WORK/results.jsonl"
  [[ -n "$REPORT_DIR" ]] || return 0
  run_description | jq --slurpfile combinations "$WORK/results.jsonl" --argjson oracle "$(oracle_report_json)" '
      . + {passed: ([$combinations[] | select(.verdict == "fail")] | length == 0),
           second_oracle: $oracle, combinations: $combinations}' >"$REPORT_DIR/report.json" ||
    fail "cannot write $REPORT_DIR/report.json"
  junit_xml "$WORK/results.jsonl" >"$REPORT_DIR/junit.xml" || fail "cannot write $REPORT_DIR/junit.xml"
  say "reports: $REPORT_DIR/report.json, $REPORT_DIR/junit.xml"
}

# What ran, where and with what: the report's header as one JSON object.
run_description() {
  local commit='' java jbang
  commit=$(git -C "$REPO" rev-parse HEAD 2>/dev/null) || commit=''
  java=$(java -version 2>&1 | head -n 1) || java=''
  jbang=$("$REPO/deploy/bin/jbang" --version 2>&1 </dev/null | tail -n 1) || jbang=''
  jq -n --arg started "$STARTED_AT" --arg finished "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    --arg host "$(uname -n)" --arg commit "$commit" \
    --arg pg_dump "$(pg_dump --version)" --arg server "$(sql "$MAINT_DB" -c 'SHOW server_version')" \
    --arg tool "$(run_tool --version 2>/dev/null || true)" --arg java "$java" --arg jbang "$jbang" '
    def text: if . == "" then null else . end;
    {gate: "backup-restore-smoke", started_at: $started, finished_at: $finished, host: $host,
     repository_commit: ($commit | text),
     versions: {tool: ($tool | text), jbang: ($jbang | text), java: ($java | text),
                pg_dump: $pg_dump, source_server: $server}}'
}

# One row per combination; every time with two decimals, "-" for a phase
# that did not run.
print_summary() {
  printf '%-12s %-5s %-8s %-8s %-18s %s\n' method major verdict rows chain_head 'seconds backup/restore/verify/continuity'
  jq -r '[.method, (.target_major | tostring), .verdict, (.rows | tostring),
          ((.restored_chain_head // "-") | .[0:16]),
          (.seconds | [.backup, .restore, .verify, .continuity] | map(. // "-" | tostring) | join(" "))] | @tsv' "$1" |
    while IFS=$'\t' read -r method major verdict rows head times; do
      printf '%-12s %-5s %-8s %-8s %-18s %s\n' "$method" "$major" "$verdict" "$rows" "$head" "$(two_decimals "$times")"
    done
}

# "1.5 - 0.25" -> "1.50/-/0.25": each number with two decimals.
two_decimals() {
  awk '{ for (i = 1; i <= NF; i++) printf "%s%s", (i > 1 ? "/" : ""), ($i == "-" ? "-" : sprintf("%.2f", $i)) }' <<<"$1"
}

# JUnit XML, one testcase per combination, for CI systems that show tests.
# The time is the sum of the phases, added by awk so it prints as 1.43,
# not as jq's 1.4300000000000002.
junit_xml() {
  local records=$1 name verdict seconds reason
  jq -r -s '"<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
    "<testsuite name=\"backup-restore-smoke\" tests=\"\(length)\" failures=\"\([.[] | select(.verdict == "fail")] | length)\" skipped=\"\([.[] | select(.verdict == "skipped")] | length)\">"' "$records"
  # The reason goes last: read folds empty fields between tabs.
  jq -r '[.name, .verdict, ([.seconds[] // 0] | map(tostring) | join(" ")), (.reason // "")] | @tsv' "$records" |
    while IFS=$'\t' read -r name verdict seconds reason; do
      printf '  <testcase classname="backup-restore-smoke" name="%s" time="%s">' "$(xml_escape "$name")" \
        "$(awk '{ s = 0; for (i = 1; i <= NF; i++) s += $i; printf "%.2f", s }' <<<"$seconds")"
      case "$verdict" in
        fail) printf '<failure message="%s"/>' "$(xml_escape "$reason")" ;;
        skipped) printf '<skipped message="%s"/>' "$(xml_escape "$reason")" ;;
      esac
      printf '</testcase>\n'
    done
  printf '</testsuite>\n'
}

xml_escape() {
  local s=${1//&/&amp;}
  s=${s//</&lt;}
  s=${s//>/&gt;}
  printf '%s' "${s//\"/&quot;}"
}
