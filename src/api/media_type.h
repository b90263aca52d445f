// Accept-header parsing for the content negotiations of the api package (Table
// responses, aggregated discovery).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sampan::api {

// One media range of an Accept header: "application/json;as=Table;v=v1;g=meta.k8s.io".
struct MediaRange {
  std::string type;  // "application/json", lower-cased
  std::string as;    // the as= parameter (kind), "" if absent
  std::string g;     // the g= parameter (group)
  std::string v;     // the v= parameter (version)

  // application/json, application/* or */*.
  bool IsJsonCompatible() const;
};

// The media ranges of an Accept header, in the order given (q-values are not used: clients
// of the Kubernetes API list their preferences in order).
std::vector<MediaRange> ParseAccept(std::string_view accept);

}  // namespace sampan::api
