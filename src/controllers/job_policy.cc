// The free functions of job.h: podFailurePolicy and successPolicy matching, index lists.
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

std::string MatchSuccessPolicy(const json::object& job, const std::vector<int64_t>& succeeded) {
  const json::object* spec = Obj(&job, "spec");
  const json::array* rules = Arr(Obj(spec, "successPolicy"), "rules");
  if (!rules || succeeded.empty()) return "";
  const int64_t completions = Int(spec, "completions", 0);
  const std::set<int64_t> have(succeeded.begin(), succeeded.end());
  for (size_t i = 0; i < rules->size(); ++i) {
    if (!(*rules)[i].is_object()) continue;
    const json::object& rule = (*rules)[i].as_object();
    const json::value* count_v = rule.if_contains("succeededCount");
    const bool has_count = count_v && count_v->is_int64();
    const int64_t count = has_count ? count_v->as_int64() : 0;
    bool met = false;
    if (const json::value* ix = rule.if_contains("succeededIndexes"); ix && ix->is_string()) {
      int64_t wanted = 0, contained = 0;
      for (int64_t x : ParseIndexes(ix->as_string())) {
        if (x < 0 || x >= completions) continue;
        ++wanted;
        if (have.count(x)) ++contained;
      }
      if (wanted == 0) continue;  // an unusable list never matches
      met = contained == wanted || (has_count && contained >= count);
    } else if (has_count) {
      met = static_cast<int64_t>(have.size()) >= count;
    }
    if (met) return "Matched rules at index " + std::to_string(i);
  }
  return "";
}

std::string FormatIndexes(const std::vector<int64_t>& sorted) {
  std::string out;
  size_t i = 0;
  while (i < sorted.size()) {
    size_t j = i;
    while (j + 1 < sorted.size() && sorted[j + 1] == sorted[j] + 1) ++j;
    if (!out.empty()) out += ",";
    out += std::to_string(sorted[i]);
    if (j > i) out += (j == i + 1 ? "," : "-") + std::to_string(sorted[j]);
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
