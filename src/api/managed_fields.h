// Field ownership for server-side apply: the fieldsV1 sets of metadata.managedFields, the merge of
// an applied configuration into a live object, and the paths one manager gives up.
//
// A field set is kept in the fieldsV1 form itself, a trie of JSON objects whose keys are path
// elements: "f:NAME" (a field, or a key of a map), "k:{...}" (the item of an associative list
// with those merge-key values), "v:VALUE" (a value of a set list) and "." (the list item itself).
// A leaf is an empty object. Lists are told apart by the schema, as strategic merge patch does: a
// field with a merge key is an associative list keyed by it, a field with strategy "merge" and
// scalar items is a set, any other list is atomic (owned and replaced whole).
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <string>
#include <vector>

#include "api/schema.h"

namespace sampan::api {

using FieldPath = std::vector<std::string>;

// The fields an applied configuration sets, as a fieldsV1 trie. Identity and system metadata
// (name, namespace, uid, resourceVersion, ...), apiVersion, kind and status are not owned.
boost::json::object AppliedFields(const boost::json::object& applied, const Schema* schema);

// Every leaf path of a trie, in key order.
std::vector<FieldPath> LeafPaths(const boost::json::object& trie);
// Whether `path` is a leaf of `trie`.
bool TrieHasLeaf(const boost::json::object& trie, const FieldPath& path);
// Whether `trie` holds anything at or below `prefix`.
bool TrieHasPrefix(const boost::json::object& trie, const FieldPath& prefix);
// Removes the leaf `path`, and the branches that become empty on the way up.
void TrieRemove(boost::json::object& trie, const FieldPath& path);
// Adds the leaf `path`.
void TrieAdd(boost::json::object& trie, const FieldPath& path);

// The value at `path` in `obj` (a "." element names the list item itself); null if absent.
const boost::json::value* ValueAtPath(const boost::json::value& obj, const FieldPath& path);
// The same from an object, without making a value of it (a path into an object starts with "f:").
const boost::json::value* ValueAtPath(const boost::json::object& obj, const FieldPath& path);
// Removes what `path` names from `obj`: a field, a map key, a list item. No-op if absent.
void RemoveAtPath(boost::json::value& obj, const FieldPath& path);

// Merges `applied` into `live`: objects and maps key by key, associative lists item by item
// (matched by merge key), set lists as a union; scalars and atomic lists are replaced.
void MergeApplied(boost::json::object& live, const boost::json::object& applied,
                  const Schema* schema);

// Drops the null values of an applied configuration: apply leaves them unowned and unset.
void DropNulls(boost::json::value& v);

// A path as Kubernetes prints it in a conflict: .spec.containers[name="app"].image
std::string PathString(const FieldPath& path);

}  // namespace sampan::api
