// List with label/field selectors and paging (continue tokens).
#include <boost/json.hpp>
#include <set>

#include "api/fields.h"
#include "api/labels.h"
#include "apiserver/rest.h"
#include "apiserver/rest_internal.h"
#include "util/base64.h"
#include "util/log.h"

namespace sampan::apiserver {
namespace {

std::string EncodeContinue(int64_t rev, const std::string& last_key) {
  json::object o{{"v", "meta.k8s.io/v1"}, {"rv", rev}, {"start", last_key + std::string(1, '\0')}};
  return Base64UrlEncode(json::serialize(o));
}

Status BadContinue(std::string why) {
  return BadRequest("continue key is not valid: " + why);
}

// Fields each kind can be selected on, beyond metadata.name and metadata.namespace.
const std::set<std::string, std::less<>>& SelectableFields(const api::KindInfo& kind) {
  static const std::set<std::string, std::less<>> kNone;
  static const std::map<std::string, std::set<std::string, std::less<>>, std::less<>> kByKind = {
      {"Pod",
       {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
        "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"}},
      {"Event",
       {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
        "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
        "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type",
        "regarding.kind", "regarding.name", "regarding.namespace", "regarding.uid", "note"}},
      {"Secret", {"type"}},
      {"Namespace", {"status.phase"}},
      {"Node", {"spec.unschedulable"}},
      {"ReplicaSet", {"status.replicas"}},
      {"ReplicationController", {"status.replicas"}},
      {"Job", {"status.successful"}},
      {"CertificateSigningRequest", {"spec.signerName"}},
  };
  auto it = kByKind.find(kind.kind);
  return it == kByKind.end() ? kNone : it->second;
}

// Event's `source` selects on source.component.
std::string FieldValue(const json::object& obj, const std::string& field) {
  std::string path = field == "source" ? "source.component" : field;
  const json::value* cur = nullptr;
  const json::object* o = &obj;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    cur = o->if_contains(part);
    if (!cur) return "";
    if (dot == std::string::npos) break;
    if (!cur->is_object()) return "";
    o = &cur->as_object();
    start = dot + 1;
  }
  if (cur->is_string()) return std::string(cur->as_string());
  if (cur->is_bool()) return cur->as_bool() ? "true" : "false";
  if (cur->is_int64()) return std::to_string(cur->as_int64());
  if (cur->is_uint64()) return std::to_string(cur->as_uint64());
  return "";
}

}  // namespace

namespace internal {

bool Filter::Matches(const json::object& obj) const {
  if (!labels.empty()) {
    const json::value* l = nullptr;
    if (auto* m = obj.if_contains("metadata"); m && m->is_object())
      l = m->as_object().if_contains("labels");
    if (!labels.Matches(l)) return false;
  }
  for (const auto& t : fields.terms()) {
    bool eq = FieldValue(obj, t.field) == t.value;
    if (eq != t.equals) return false;
  }
  return true;
}

Result<Filter> MakeFilter(const api::KindInfo& kind, std::string_view label_selector,
                          std::string_view field_selector) {
  Filter f;
  if (!label_selector.empty()) {
    ASSIGN_OR_RETURN(f.labels, api::LabelSelector::Parse(label_selector));
  }
  if (!field_selector.empty()) {
    ASSIGN_OR_RETURN(f.fields, api::FieldSelector::Parse(field_selector));
    const auto& allowed = SelectableFields(kind);
    for (const auto& t : f.fields.terms()) {
      if (t.field != "metadata.name" && t.field != "metadata.namespace" && !allowed.count(t.field)) {
        return BadRequest("field label not supported: " + t.field);
      }
    }
  }
  return f;
}

}  // namespace internal

Result<ListOutcome> Rest::List(const api::KindInfo& kind, std::string_view ns,
                               const ListOptions& opts) {
  ASSIGN_OR_RETURN(internal::Filter filter,
                   internal::MakeFilter(kind, opts.label_selector, opts.field_selector));
  std::string prefix = ListPrefix(kind, ns);
  ListOutcome out;
  if (opts.continue_token.empty()) {
    std::vector<ObjectPtr> all = cache_.List(prefix, &out.revision);
    int64_t matching = 0;
    for (auto& o : all) {
      if (!filter.Matches(o->obj)) continue;
      ++matching;
      if (opts.limit <= 0 || int64_t(out.items.size()) < opts.limit) out.items.push_back(o);
    }
    if (opts.limit > 0 && matching > opts.limit) {
      // remainingItemCount counts what the limit cut off.
      out.remaining = matching - int64_t(out.items.size());
      out.continue_token = EncodeContinue(out.revision, out.items.back()->key.substr(prefix.size()));
    }
    return out;
  }
  // A continued list is read from the store at the first page's revision, so the pages form
  // one consistent snapshot.
  std::optional<std::string> decoded = Base64Decode(opts.continue_token);
  if (!decoded) return BadContinue("illegal base64 data");
  std::string raw = std::move(*decoded);
  boost::system::error_code ec;
  json::value tok = json::parse(raw, ec);
  if (ec || !tok.is_object()) return BadContinue("not a continue token");
  auto* rvv = tok.as_object().if_contains("rv");
  auto* startv = tok.as_object().if_contains("start");
  if (!rvv || !rvv->is_int64() || !startv || !startv->is_string())
    return BadContinue("incomplete continue token");
  int64_t rev = rvv->as_int64();
  std::string start(startv->as_string());
  if (!start.empty() && start.back() == '\0') start.pop_back();
  if (start.find("..") != std::string::npos || (!start.empty() && start[0] == '/'))
    return BadContinue("invalid start key");
  out.revision = rev;
  std::string after = prefix + start;
  int64_t want = opts.limit > 0 ? opts.limit : 0;
  for (;;) {
    auto page = backend_.List(prefix, after, want > 0 ? std::max<int64_t>(want, 100) : 0, rev);
    if (!page.ok()) {
      if (page.status().code() == Code::kGone) {
        return Gone(
            "The provided continue parameter is too old to display a consistent list result. You "
            "can start a new list without the continue parameter.");
      }
      return page.status();
    }
    for (auto& kv : page->items) {
      after = kv.key;
      boost::system::error_code pec;
      json::value v = json::parse(kv.value, pec);
      if (pec || !v.is_object()) continue;
      if (!filter.Matches(v.as_object())) continue;
      if (want > 0 && int64_t(out.items.size()) == want) {
        out.continue_token =
            EncodeContinue(rev, out.items.back()->key.substr(prefix.size()));
        out.remaining = -1;
        return out;
      }
      out.items.push_back(MakeStored(kv.key, std::move(v.as_object()), kv.mod_revision));
    }
    if (!page->more) break;
  }
  return out;
}

}  // namespace sampan::apiserver
