// `rayk microbenchmark`: the contract between the rayk command and the
// library that holds the benchmark's cases, librayk_microbenchmark.so.
//
// The cases' remote functions and actors must live in a shared library,
// because workers run remote code by loading the job's libraries (see
// docs/jobs.md). So the command does not link the cases: it finds the library
// beside itself (bin/rayk -> lib/librayk_microbenchmark.so, the same in the
// build tree and an install), loads it with dlopen, and calls one C entry
// point. Loading it only for this command keeps its RAYK_REMOTE names out of
// every other rayk process (workers of other jobs, daemons).
#pragma once

// The library's file name, looked up in ../lib relative to the rayk executable.
#define RAYK_MICROBENCHMARK_LIBRARY "librayk_microbenchmark.so"

// The entry point's symbol name.
#define RAYK_MICROBENCHMARK_ENTRY "rayk_microbenchmark_run"

extern "C" {
// Runs the benchmark. `options_json` is a JSON object:
//   {"address": "",          // a running cluster's GCS; empty: an embedded cluster
//    "filter": "",           // ECMAScript regex searched in each case's name; empty: all
//    "duration": 2.0,        // seconds per trial (> 0)
//    "trials": 4,            // trials per case (>= 1)
//    "format": "text"}       // "text" or "json"
// Prints results on stdout and a one-line error on stderr; returns the exit code.
typedef int (*RaykMicrobenchmarkEntry)(const char* options_json);
}
