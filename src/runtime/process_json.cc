// Process -> process.json (the inverse of ParseProcess), for `sampan runtime exec --process`.
#include <boost/json.hpp>

#include "runtime/spec.h"

namespace sampan::runtime {

std::string ProcessToJson(const Process& p) {
  namespace json = boost::json;
  json::object o;
  o["terminal"] = p.terminal;
  json::object user{{"uid", p.user.uid}, {"gid", p.user.gid}};
  if (p.user.umask) user["umask"] = *p.user.umask;
  if (!p.user.additional_gids.empty()) {
    json::array g;
    for (uint32_t x : p.user.additional_gids) g.emplace_back(x);
    user["additionalGids"] = std::move(g);
  }
  o["user"] = std::move(user);
  auto strings = [](const std::vector<std::string>& v) {
    json::array a;
    for (const auto& s : v) a.emplace_back(s);
    return a;
  };
  o["args"] = strings(p.args);
  o["env"] = strings(p.env);
  o["cwd"] = p.cwd;
  if (p.caps.present) {
    auto caps = [](const std::vector<int>& v) {
      json::array a;
      for (int c : v) a.emplace_back(CapabilityName(c));
      return a;
    };
    o["capabilities"] = json::object{{"bounding", caps(p.caps.bounding)},
                                     {"effective", caps(p.caps.effective)},
                                     {"inheritable", caps(p.caps.inheritable)},
                                     {"permitted", caps(p.caps.permitted)},
                                     {"ambient", caps(p.caps.ambient)}};
  }
  if (!p.rlimits.empty()) {
    json::array r;
    for (const Rlimit& l : p.rlimits)
      r.push_back(json::object{{"type", l.name}, {"hard", l.hard}, {"soft", l.soft}});
    o["rlimits"] = std::move(r);
  }
  o["noNewPrivileges"] = p.no_new_privileges;
  if (p.oom_score_adj) o["oomScoreAdj"] = *p.oom_score_adj;
  return json::serialize(o);
}

}  // namespace sampan::runtime
