// Node labels and label selectors: which nodes a task, an actor or a
// placement group may use, by the key = value labels the nodes carry.
//
// A node's labels are given when it starts (`rayk start --labels
// '{"zone": "a"}'`), and every node also carries these, set by its raylet:
//
//   rayk.io/node-id       the node id, 32 hex digits
//   rayk.io/hostname      the host's name
//   rayk.io/node-address  the address other hosts reach the node at
//
// (a dev cluster's nodes also carry rayk.io/node-index). The prefix
// "rayk.io/" belongs to rayk: users cannot set such labels themselves.
//
// A selector maps a label key to a condition, and a node matches when every
// condition holds. Conditions are written as in Ray's label selectors, plus
// two for presence:
//
//   "a"          the label is "a"
//   "!a"         the label is not "a" (a node without the label matches)
//   "in(a,b)"    the label is one of a, b
//   "!in(a,b)"   the label is none of a, b (a node without it matches)
//   "exists()"   the node has the label, with any value
//   "!exists()"  the node does not have the label
//
//   rayk::Task(f).SetLabelSelector({{"zone", "in(a,b)"}, {"gpu-type", "!exists()"}})
//
// Label keys are an optional prefix ending in '/' followed by a name; both
// use letters, digits, '.', '_' and '-'. Values (and the values inside a
// condition) use letters, digits, '.', '_' and '-', 1 to 63 characters,
// so no value can be mistaken for a condition.
//
// All functions are pure and thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "rayk/status.h"

namespace rayk {

using Labels = std::map<std::string, std::string>;

inline constexpr std::string_view kReservedLabelPrefix = "rayk.io/";
inline constexpr char kNodeIdLabel[] = "rayk.io/node-id";
inline constexpr char kHostnameLabel[] = "rayk.io/hostname";
inline constexpr char kNodeAddressLabel[] = "rayk.io/node-address";

// True when `labels` satisfy `condition` (the syntax above) for `key`. A
// condition CheckLabelSelector refuses never holds.
bool LabelConditionHolds(const Labels& labels, const std::string& key, std::string_view condition);

// True when every condition of `selector` holds for `labels`.
bool LabelsMatch(const Labels& labels, const Labels& selector);

// OK, or a one-line error naming `where` (e.g. "SetLabelSelector"), the entry
// and the syntax to use.
Status CheckLabelSelector(const Labels& selector, const std::string& where);

// OK when `labels` are valid node labels a user may set (no "rayk.io/" key,
// unless `allow_reserved`: for the labels rayk's own launchers pass on);
// else a one-line error naming `where` (e.g. "--labels") and the fix.
Status CheckNodeLabels(const Labels& labels, const std::string& where, bool allow_reserved = false);

}  // namespace rayk
