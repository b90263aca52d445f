// The three patch kinds of the Kubernetes API.
#pragma once

#include <boost/json/fwd.hpp>

#include "api/schema.h"
#include "util/status.h"

namespace sampan::api {

// RFC 7386 JSON merge patch. `patch` must be an object (else BadRequest).
Result<boost::json::value> ApplyMergePatch(const boost::json::value& original,
                                           const boost::json::value& patch);

// RFC 6902 JSON patch (add, remove, replace, move, copy, test). Errors: BadRequest /
// Invalid with the failing operation's index and path; Conflict-free (no revision logic).
Result<boost::json::value> ApplyJsonPatch(const boost::json::value& original,
                                          const boost::json::value& patch);

// Kubernetes strategic merge patch, driven by the schema's merge keys and strategies:
// lists with strategy merge are merged by their merge key (primitive lists as sets),
// other lists replaced; null deletes; directives $patch (delete|replace; "merge" is
// refused as Kubernetes does), $setElementOrder/<field>, $retainKeys,
// $deleteFromPrimitiveList/<field>. Results (incl. list order) match apimachinery's, see
// strategic_merge.cc for the two deliberate differences. BadRequest for a malformed patch.
// `schema` is the object's top-level type; unknown paths merge like merge patch.
Result<boost::json::value> ApplyStrategicMergePatch(const boost::json::value& original,
                                                    const boost::json::value& patch,
                                                    const Schema* schema);

}  // namespace sampan::api
