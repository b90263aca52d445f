// Job validation of the Indexed-only policies: backoffLimitPerIndex, maxFailedIndexes,
// successPolicy, and the FailIndex action of podFailurePolicy; and of spec.managedBy
// (Kubernetes 1.32 rules and wording).
#include <optional>
#include <string>
#include <vector>

#include "api/strategy_internal.h"
#include "api/validate.h"

namespace sampan::api::strategy {
namespace {

constexpr int64_t kMaxFailedIndexes = 100000;
constexpr int64_t kCompletionsSoftLimit = 100000;
constexpr int64_t kParallelismLimitForHighCompletions = 10000;
constexpr int64_t kMaxFailedIndexesForHighCompletions = 10000;
constexpr size_t kMaxSuccessPolicyRules = 20;
constexpr size_t kMaxSucceededIndexesLength = 64 * 1024;

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

// A decimal integer as Go's strconv.Atoi reads it (optional sign).
bool ParseInt(std::string_view s, int64_t* out) {
  size_t i = 0;
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  if (i >= s.size() || s.size() - i > 18) return false;
  int64_t v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = negative ? -v : v;
  return true;
}

// Checks an interval list such as "0,2-5" against [0, completions): strictly increasing,
// each "x" or "x-y" with x < y. Returns the number of indexes, or an error text.
std::string ParseIndexList(std::string_view text, int64_t completions, int64_t* total) {
  *total = 0;
  if (text.empty()) return "";
  std::optional<int64_t> last;
  size_t pos = 0;
  while (true) {
    size_t comma = text.find(',', pos);
    std::string_view part =
        text.substr(pos, comma == std::string_view::npos ? text.npos : comma - pos);
    std::vector<std::string_view> limits;
    size_t start = 0;
    while (true) {
      size_t dash = part.find('-', start);
      limits.push_back(
          part.substr(start, dash == std::string_view::npos ? part.npos : dash - start));
      if (dash == std::string_view::npos) break;
      start = dash + 1;
    }
    if (limits.size() > 2)
      return "the fragment " + Quote(part) +
             " violates the requirement that an index interval can have at most two parts "
             "separated by '-'";
    int64_t x = 0, y = 0;
    if (!ParseInt(limits[0], &x))
      return "cannot convert string to integer for index: " + Quote(limits[0]);
    if (x >= completions) return "too large index: " + Quote(limits[0]);
    y = x;
    if (limits.size() == 2) {
      if (!ParseInt(limits[1], &y))
        return "cannot convert string to integer for index: " + Quote(limits[1]);
      if (y >= completions) return "too large index: " + Quote(limits[1]);
      if (x >= y)
        return "non-increasing order, previous: " + std::to_string(x) +
               ", current: " + std::to_string(y);
    }
    if (last && *last >= x)
      return "non-increasing order, previous: " + std::to_string(*last) +
             ", current: " + std::to_string(x);
    *total += y - x + 1;
    last = y;
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return "";
}

void ValidateSuccessPolicy(const json::object& spec, const json::object& policy,
                           const std::string& path, Errors& errors) {
  const std::string rules_path = Child(path, "rules");
  const json::array* rules = Arr(policy, "rules");
  if (!rules || rules->empty()) {
    errors.Required(rules_path,
                    "at least one rules must be specified when the successPolicy is "
                    "specified");
    return;
  }
  if (rules->size() > kMaxSuccessPolicyRules)
    errors.Add({"FieldValueTooMany",
                "Too many: " + std::to_string(rules->size()) + ": must have at most " +
                    std::to_string(kMaxSuccessPolicyRules) + " items",
                rules_path});
  const int64_t completions = Int(spec, "completions").value_or(0);
  for (size_t i = 0; i < rules->size(); ++i) {
    const std::string rule_path = rules_path + "[" + std::to_string(i) + "]";
    if (!(*rules)[i].is_object()) continue;
    const json::object& rule = (*rules)[i].as_object();
    const bool has_indexes = Has(rule, "succeededIndexes");
    const bool has_count = Has(rule, "succeededCount");
    if (!has_indexes && !has_count)
      errors.Required(rule_path,
                      "at least one of succeededCount or succeededIndexes must be "
                      "specified");
    int64_t total = 0;
    if (has_indexes) {
      const std::string ix_path = Child(rule_path, "succeededIndexes");
      std::string_view text = Str(rule, "succeededIndexes").value_or("");
      if (text.size() > kMaxSucceededIndexesLength)
        errors.TooLong(ix_path, kMaxSucceededIndexesLength);
      std::string err = ParseIndexList(text, completions, &total);
      if (!err.empty()) {
        errors.InvalidString(ix_path, text, "error parsing succeededIndexes: " + err);
        total = 0;
      }
    }
    if (has_count) {
      const std::string count_path = Child(rule_path, "succeededCount");
      NonNegative(rule, "succeededCount", count_path, errors);
      int64_t count = Int(rule, "succeededCount").value_or(0);
      if (count > completions)
        errors.Invalid(count_path, json::value(count),
                       "must be less than or equal to " + std::to_string(completions) +
                           " (the number of specified completions)");
      if (has_indexes && count > total)
        errors.Invalid(count_path, json::value(count),
                       "must be less than or equal to " + std::to_string(total) +
                           " (the number of indexes in the specified succeededIndexes field)");
    }
  }
}

// spec.managedBy: a domain-prefixed path ("<DNS subdomain>/<path>") of at most 63 characters.
void ValidateManagedBy(const json::object& spec, const std::string& path, Errors& errors) {
  const json::value* v = spec.if_contains("managedBy");
  if (!v || v->is_null() || !v->is_string()) return;
  const std::string field = Child(path, "managedBy");
  std::string_view value = v->as_string();
  size_t slash = value.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == value.size()) {
    errors.InvalidString(field, value, "must be a domain-prefixed path (such as \"acme.io/foo\")");
  } else {
    std::string_view host = value.substr(0, slash), rest = value.substr(slash + 1);
    for (const auto& problem : IsDns1123Subdomain(host)) errors.InvalidString(field, host, problem);
    constexpr std::string_view kPathChars =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/-._~%!$&'()*+,;=:";
    if (rest.find_first_not_of(kPathChars) != std::string_view::npos)
      errors.InvalidString(field, rest,
                           "must be a valid path (regex used for validation is "
                           "'[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+')");
  }
  if (value.size() > 63) errors.TooLong(field, 63);
}

}  // namespace

void ValidateJobIndexPolicies(const json::object& spec, const std::string& path, Errors& errors) {
  ValidateManagedBy(spec, path, errors);  // not an index policy, but validated with them
  const bool indexed = Str(spec, "completionMode").value_or("NonIndexed") == "Indexed";
  const bool per_index = Has(spec, "backoffLimitPerIndex");
  const std::optional<int64_t> max_failed =
      Has(spec, "maxFailedIndexes") ? Int(spec, "maxFailedIndexes") : std::nullopt;
  const std::optional<int64_t> completions = Int(spec, "completions");
  if (max_failed && !per_index)
    errors.Required(Child(path, "backoffLimitPerIndex"), "when maxFailedIndexes is specified");
  if (indexed) {
    if (completions && max_failed && *max_failed > *completions)
      errors.Invalid(Child(path, "maxFailedIndexes"), json::value(*max_failed),
                     "must be less than or equal to completions");
    if (max_failed && *max_failed > kMaxFailedIndexes)
      errors.Invalid(Child(path, "maxFailedIndexes"), json::value(*max_failed),
                     "must be less than or equal to " + std::to_string(kMaxFailedIndexes));
    if (completions && *completions > kCompletionsSoftLimit && per_index) {
      if (!max_failed)
        errors.Required(
            Child(path, "maxFailedIndexes"),
            "must be specified when completions is above " + std::to_string(kCompletionsSoftLimit));
      std::optional<int64_t> parallelism = Int(spec, "parallelism");
      if (parallelism && *parallelism > kParallelismLimitForHighCompletions)
        errors.Invalid(Child(path, "parallelism"), json::value(*parallelism),
                       "must be less than or equal to " +
                           std::to_string(kParallelismLimitForHighCompletions) +
                           " when completions are above " + std::to_string(kCompletionsSoftLimit) +
                           " and used with backoff limit per index");
      if (max_failed && *max_failed > kMaxFailedIndexesForHighCompletions)
        errors.Invalid(Child(path, "maxFailedIndexes"), json::value(*max_failed),
                       "must be less than or equal to " +
                           std::to_string(kMaxFailedIndexesForHighCompletions) +
                           " when completions are above " + std::to_string(kCompletionsSoftLimit) +
                           " and used with backoff limit per index");
    }
  } else {
    if (per_index)
      errors.Invalid(Child(path, "backoffLimitPerIndex"),
                     json::value(Int(spec, "backoffLimitPerIndex").value_or(0)),
                     "requires indexed completion mode");
    if (max_failed)
      errors.Invalid(Child(path, "maxFailedIndexes"), json::value(*max_failed),
                     "requires indexed completion mode");
  }
  if (const json::object* policy = Obj(spec, "successPolicy")) {
    if (!indexed) {
      errors.Invalid(Child(path, "successPolicy"), json::value(*policy),
                     "requires indexed completion mode");
    } else {
      ValidateSuccessPolicy(spec, *policy, Child(path, "successPolicy"), errors);
    }
  }
  if (const json::object* pfp = Obj(spec, "podFailurePolicy")) {
    if (const json::array* rules = Arr(*pfp, "rules")) {
      for (size_t i = 0; i < rules->size(); ++i) {
        if (!(*rules)[i].is_object()) continue;
        if (Str((*rules)[i].as_object(), "action").value_or("") == "FailIndex" && !per_index)
          errors.InvalidString(
              Child(path, "podFailurePolicy.rules[" + std::to_string(i) + "].action"), "FailIndex",
              "requires the backoffLimitPerIndex to be set");
      }
    }
  }
}

}  // namespace sampan::api::strategy
