#!/usr/bin/env bash
# lib/json-edit.sh: take docker-overlay's keys out of a daemon.json someone edited after `up`,
# keeping every other byte as written, and put back the values those keys had in the original.
# POSIX awk (mawk, gawk and busybox awk alike): a host has no jq or python to count on.
#
# json_take_keys CURRENT ORIGINAL KEY...: prints CURRENT (a file holding one JSON object)
#   without its top-level members named KEY, followed by the members named KEY of ORIGINAL (a
#   file, or "" when there was none) as they were written there. What stays keeps its own bytes
#   and separators; the members put back take the file's indentation. Status 0; 3 when the
#   result has no member at all; 1 (with the reason on stderr) when a file is not one JSON
#   object it can read: it never guesses.

json_take_keys() {
  local current=$1 original=$2 cur='' old=''
  shift 2
  IFS= read -r -d '' cur <"$current" || true
  if [[ -n $original ]]; then IFS= read -r -d '' old <"$original" || true; fi
  # The texts go through the environment: awk -v would interpret their backslashes.
  JE_CUR=$cur JE_OLD=$old JE_KEYS=$(printf '%s\n' "$@") awk '
    function fail(why) { printf "%s\n", why > "/dev/stderr"; exit 1 }
    # scan(T, P): the top-level members of the object in T. N[P]: their count; S[P,i], E[P,i]:
    # where member i starts (its key quote) and ends (after its value); K[P,i]: its key;
    # O[P], C[P]: where the braces of the object are.
    function scan(t, p,    len, i, c, depth, instr, esc, expect, start, kstart, key, last) {
      len = length(t); depth = 0; instr = 0; esc = 0; N[p] = 0; O[p] = 0; C[p] = 0
      for (i = 1; i <= len; i++) {
        c = substr(t, i, 1)
        if (instr) {
          if (esc) esc = 0
          else if (c == "\\") esc = 1
          else if (c == "\"") {
            instr = 0; last = i + 1
            if (depth == 1 && expect == "key") { key = substr(t, kstart + 1, i - kstart - 1); expect = "colon" }
          }
          continue
        }
        if (c == " " || c == "\t" || c == "\r" || c == "\n") continue
        if (depth == 0) {
          if (c != "{" || O[p]) fail("it is not one JSON object")
          O[p] = i; depth = 1; expect = "key"; continue
        }
        if (depth == 1) {
          if (expect == "key") {
            if (c == "}" && N[p] == 0 && !sawcomma) { C[p] = i; depth = 0; continue }
            if (c != "\"") fail("a key was expected at byte " i)
            instr = 1; kstart = i; start = i; continue
          }
          if (expect == "colon") { if (c != ":") fail("a colon was expected at byte " i); expect = "value"; continue }
          if (expect == "value") {
            expect = "end"
            if (c == "\"") { instr = 1; continue }
            if (c == "{" || c == "[") { depth++; continue }
            last = i + 1; continue
          }
          # expect == "end": the rest of a scalar, or the comma or brace after the value
          if (c == "," || c == "}") {
            N[p]++; S[p, N[p]] = start; E[p, N[p]] = last; K[p, N[p]] = key
            if (c == ",") { expect = "key"; sawcomma = 1 } else { C[p] = i; depth = 0 }
            continue
          }
          if (c == "{" || c == "[" || c == "\"" || c == ":") fail("unexpected " c " at byte " i)
          last = i + 1; continue
        }
        if (c == "\"") { instr = 1; continue }
        if (c == "{" || c == "[") { depth++; continue }
        if (c == "}" || c == "]") { depth--; if (depth == 1) last = i + 1; continue }
      }
      if (!C[p] || instr) fail("it does not end where the object does")
      if (substr(t, C[p] + 1) !~ /^[ \t\r\n]*$/) fail("there is text after the object")
      sawcomma = 0
    }
    BEGIN {
      cur = ENVIRON["JE_CUR"]; old = ENVIRON["JE_OLD"]
      nk = split(ENVIRON["JE_KEYS"], list, "\n")
      for (i = 1; i <= nk; i++) if (list[i] != "") ours[list[i]] = 1
      scan(cur, "c")
      n = N["c"]
      # The separator this file puts between members, for the ones put back.
      sep = ",\n  "
      if (n >= 2) sep = substr(cur, E["c", 1], S["c", 2] - E["c", 1])
      else if (n == 1) sep = "," substr(cur, O["c"] + 1, S["c", 1] - O["c"] - 1)
      ws = substr(sep, 2)
      out = n > 0 ? substr(cur, 1, S["c", 1] - 1) : substr(cur, 1, O["c"]) ws
      count = 0
      for (i = 1; i <= n; i++) {
        if (K["c", i] in ours) continue
        if (count++) out = out substr(cur, E["c", i - 1], S["c", i] - E["c", i - 1])
        out = out substr(cur, S["c", i], E["c", i] - S["c", i])
      }
      if (old != "") {
        scan(old, "o")
        for (i = 1; i <= N["o"]; i++) {
          if (!(K["o", i] in ours)) continue
          if (count++) out = out sep
          out = out substr(old, S["o", i], E["o", i] - S["o", i])
        }
      }
      if (count == 0) { printf "%s", substr(cur, 1, O["c"]) substr(cur, C["c"]); exit 3 }
      printf "%s", out (n > 0 ? substr(cur, E["c", n]) : substr(cur, C["c"] - 0))
      exit 0
    }
  '
}
