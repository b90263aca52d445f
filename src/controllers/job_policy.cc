// The free functions of job.h: podFailurePolicy matching and completed-index lists.
#include <set>

#include "controllers/job.h"

namespace sampan::controllers {
namespace json = boost::json;
using client::MetaString;

PodFailureAction MatchPodFailurePolicy(const json::object& job, const json::object& pod) {
  const json::array* rules = Arr(Obj(Obj(&job, "spec"), "podFailurePolicy"), "rules");
  if (!rules) return {};
  const std::string pod_ref = MetaString(pod, "namespace") + "/" + MetaString(pod, "name");
  const json::object* st = Obj(&pod, "status");
  for (size_t i = 0; i < rules->size(); ++i) {
    if (!(*rules)[i].is_object()) continue;
    const json::object& rule = (*rules)[i].as_object();
    const std::string action = Str(&rule, "action");
    const std::string where = " matching " + action + " rule at index " + std::to_string(i);
    if (const json::object* codes = Obj(&rule, "onExitCodes")) {
      std::string want_name = Str(codes, "containerName"), op = Str(codes, "operator");
      std::set<int64_t> values;
      if (const json::array* vs = Arr(codes, "values"))
        for (const auto& v : *vs)
          if (v.is_int64()) values.insert(v.as_int64());
      for (const char* list : {"initContainerStatuses", "containerStatuses"}) {
        const json::array* cs = Arr(st, list);
        if (!cs) continue;
        for (const auto& c : *cs) {
          if (!c.is_object()) continue;
          const json::object* term = Obj(Obj(&c.as_object(), "state"), "terminated");
          if (!term) continue;
          std::string name = Str(&c.as_object(), "name");
          int64_t code = Int(term, "exitCode");
          if (code == 0 || (!want_name.empty() && want_name != name)) continue;
          bool in = values.count(code) > 0;
          if ((op == "In" && in) || (op == "NotIn" && !in)) {
            return {action, "Container " + name + " for pod " + pod_ref +
                                " failed with exit code " + std::to_string(code) + where};
          }
        }
      }
    }
    if (const json::array* conds = Arr(&rule, "onPodConditions")) {
      for (const auto& want : *conds) {
        if (!want.is_object()) continue;
        std::string type = Str(&want.as_object(), "type");
        std::string value = Str(&want.as_object(), "status");
        if (value.empty()) value = "True";
        if (const json::array* have = Arr(st, "conditions"))
          for (const auto& c : *have)
            if (c.is_object() && Str(&c.as_object(), "type") == type &&
                Str(&c.as_object(), "status") == value)
              return {action, "Pod " + pod_ref + " has condition " + type + where};
      }
    }
  }
  return {};
}

std::string FormatIndexes(const std::vector<int64_t>& sorted) {
  std::string out;
  size_t i = 0;
  while (i < sorted.size()) {
    size_t j = i;
    while (j + 1 < sorted.size() && sorted[j + 1] == sorted[j] + 1) ++j;
    if (!out.empty()) out += ",";
    out += std::to_string(sorted[i]);
    if (j > i) out += "-" + std::to_string(sorted[j]);
    i = j + 1;
  }
  return out;
}

std::vector<int64_t> ParseIndexes(std::string_view text) {
  std::set<int64_t> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t comma = text.find(',', pos);
    std::string part(text.substr(pos, comma == std::string_view::npos ? text.npos : comma - pos));
    pos = comma == std::string_view::npos ? text.size() : comma + 1;
    size_t dash = part.find('-');
    try {
      int64_t a = std::stoll(part.substr(0, dash));
      int64_t b = dash == std::string::npos ? a : std::stoll(part.substr(dash + 1));
      for (int64_t x = a; x <= b && b - a < 1000000; ++x) out.insert(x);
    } catch (...) {
    }
  }
  return {out.begin(), out.end()};
}

}  // namespace sampan::controllers
