// ControllerRevision history shared by the DaemonSet and StatefulSet controllers.
// A revision holds the owner's pod template as the strategic-merge patch that
// `kubectl rollout undo` applies back ({"spec":{"template":{..., "$patch":"replace"}}}),
// is named "<owner>-<hash>" (hash of the template and status.collisionCount),
// carries the template's labels plus a hash label, the owner's annotations
// (so `kubectl rollout history` shows change-cause) and a controller ownerReference.
#pragma once

#include <boost/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "client/informer.h"
#include "client/rest_client.h"

namespace sampan::controllers {

// The revision data of an owner's current template.
boost::json::object RevisionData(const boost::json::object& owner);
// Whether revision `cr` holds `owner`'s current template.
bool RevisionMatches(const boost::json::object& cr, const boost::json::object& owner);
int64_t RevisionNumber(const boost::json::object& cr);
// The template stored in a revision ({} if none).
boost::json::object RevisionTemplate(const boost::json::object& cr);
// Revisions controlled by `owner` (by uid), oldest revision number first.
std::vector<client::ObjectPtr> OwnedRevisions(client::Informer* revisions,
                                              const boost::json::object& owner);

// The revision of `owner`'s current template: found among `owned` (its revision number raised
// to the newest if an older one matches, e.g. after an undo) or created. A name taken by a
// different template raises the owner's status.collisionCount and answers Conflict (retry).
// `hash_label`: the label carrying the hash on the revision.
Result<boost::json::object> EnsureCurrentRevision(client::RestClient* client,
                                                  const client::Resource& owner_resource,
                                                  const boost::json::object& owner,
                                                  const std::vector<client::ObjectPtr>& owned,
                                                  const std::string& hash_label);

// Deletes the oldest of `owned` beyond `limit`, sparing the names in `keep`.
Status TrimRevisions(client::RestClient* client, const std::vector<client::ObjectPtr>& owned,
                     int64_t limit, const std::set<std::string>& keep);

}  // namespace sampan::controllers
