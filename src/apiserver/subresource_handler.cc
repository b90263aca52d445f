// Subresources: status, scale, binding, eviction, finalize, ephemeralcontainers, and the
// node-agent streams (log, exec, attach, portforward, proxy).
#include <boost/json.hpp>

#include "api/codec.h"
#include "api/patch.h"
#include "api/strategy.h"
#include "apiserver/api_handler.h"
#include "apiserver/rest_internal.h"
#include "util/clock.h"

namespace sampan::apiserver {

namespace {

Response Success(int status) {
  Response r;
  r.status = status;
  r.body = StatusJson(Status::Ok());
  return r;
}

std::string PatchMediaType(std::string_view ct) {
  std::string t(ct.substr(0, ct.find(';')));
  while (!t.empty() && t.back() == ' ') t.pop_back();
  return t;
}

}  // namespace

asio::awaitable<void> ApiHandler::HandleSubresource(Request& req, Responder& res,
                                                    const RequestInfo& info) {
  const api::KindInfo& kind = *info.kind;
  const std::string& sub = info.subresource;
  if (!kind.FindSubresource(sub) && !(kind.kind == "Namespace" && sub == "finalize")) {
    RETURN_REPLY(ErrorResponse(NotFound("the server could not find the requested resource"), &info));
  }
  if (kind.kind == "Pod" && sub == "proxy") {  // the name may carry a scheme and a port
    co_await ProxyToPod(req, res, info);
    co_return;
  }
  auto current = rest_.Get(kind, info.ns, info.name);
  if (!current.ok()) {
    RETURN_REPLY(ErrorResponse(current.status(), &info));
  }
  if (kind.group.empty() && kind.kind == "ServiceAccount" && sub == "token") {
    if (info.verb != "create") {
      RETURN_REPLY(ErrorResponse(MethodNotAllowed(), &info));
    }
    co_await CreateToken(req, res, info, (*current)->obj);
    co_return;
  }
  WriteOptions opts;
  std::vector<std::string> warnings;
  opts.warnings = &warnings;
  opts.identity = &req.identity;
  opts.subresource = sub;
  opts.dry_run = req.Query("dryRun") == "All";
  if (auto fv = req.Query("fieldValidation"); !fv.empty()) opts.field_validation = std::string(fv);

  std::string ns = info.ns, name = info.name;
  auto send_result = [&](const Result<ObjectPtr>& out, bool as_scale) -> asio::awaitable<void> {
    if (!out.ok()) {
      RETURN_REPLY(ErrorResponse(out.status(), &info));
    }
    if (as_scale) {
      auto s = rest_.ScaleOf(kind, (*out)->obj);
      RETURN_REPLY(s.ok() ? JsonResponse(200, *s) : ErrorResponse(s.status(), &info));
    }
    {
      Response reply = StoredResponse(200, **out);
      co_await res.Send(std::move(reply));
    }
  };

  auto patch_type = [&](std::string_view ct) -> Result<PatchType> {
    std::string mt = PatchMediaType(ct);
    if (mt == "application/json-patch+json") return PatchType::kJson;
    if (mt == "application/merge-patch+json") return PatchType::kMerge;
    if (mt == "application/strategic-merge-patch+json") return PatchType::kStrategic;
    if (mt == "application/apply-patch+yaml") return PatchType::kApply;
    return Status(Code::kUnsupportedMedia, "unsupported patch type \"" + mt + "\"");
  };

  if (kind.kind == "Pod" && sub == "ephemeralcontainers") {
    // The Pod itself; a write may change spec.ephemeralContainers only (add entries).
    if (info.verb == "get") {
      {
        Response reply = StoredResponse(200, **current);
        co_await res.Send(std::move(reply));
      }
      co_return;
    }
    if (info.verb == "update" || info.verb == "patch") {
      bool is_patch = info.verb == "patch";
      Result<PatchType> pt = PatchType::kMerge;
      if (is_patch) pt = patch_type(req.Header("content-type"));
      auto input = api::DecodeJson(req.body);
      if (!pt.ok() || !input.ok() || !input->is_object()) {
        Status bad = !pt.ok()      ? pt.status()
                     : !input.ok() ? input.status()
                                   : BadRequest("the body must be an object");
        RETURN_REPLY(ErrorResponse(bad, &info));
      }
      if (!is_patch) {
        std::string want_rv(internal::MetaString(input->as_object(), "resourceVersion"));
        if (!want_rv.empty() && want_rv != std::to_string((*current)->mod_revision)) {
          RETURN_REPLY(ErrorResponse(
              Conflict("Operation cannot be fulfilled on " + QualifiedResource(kind) + " \"" +
                       info.name +
                       "\": the object has been modified; please apply your changes to the "
                       "latest version and try again"),
              &info));
        }
      }
      std::function<Status(json::object&)> set_ephemeral = [&](json::object& next) -> Status {
        json::object old = next;
        Result<json::value> wanted = *input;
        if (is_patch) {
          json::value base(old);
          switch (*pt) {
            case PatchType::kJson: wanted = api::ApplyJsonPatch(base, *input); break;
            case PatchType::kMerge: wanted = api::ApplyMergePatch(base, *input); break;
            case PatchType::kStrategic:
              wanted = api::ApplyStrategicMergePatch(base, *input, kind.schema);
              break;
            case PatchType::kApply:
              return Status(Code::kUnsupportedMedia,
                            "server-side apply (application/apply-patch+yaml) is not supported");
          }
          if (!wanted.ok()) return wanted.status();
        }
        const json::value* list = nullptr;
        if (wanted->is_object()) {
          if (auto* spec = wanted->as_object().if_contains("spec"); spec && spec->is_object())
            list = spec->as_object().if_contains("ephemeralContainers");
        }
        json::value& spec = next["spec"];
        if (!spec.is_object()) spec.emplace_object();
        if (list && list->is_array() && !list->as_array().empty()) {
          spec.as_object()["ephemeralContainers"] = *list;
        } else {
          spec.as_object().erase("ephemeralContainers");
        }
        internal::ApplyDefaults(kind, next);
        Status valid = api::ValidateEphemeralContainersUpdate(kind, next, old);
        if (valid.code() == Code::kInvalid) return rest_.InvalidError(kind, name, valid.causes());
        return valid;
      };
      WriteOptions eopts = opts;
      eopts.skip_update_validation = true;  // checked above: the pod's own update rules forbid it
      Result<ObjectPtr> out = co_await rest_.Mutate(kind, ns, name, set_ephemeral, eopts);
      co_await send_result(out, false);
      co_return;
    }
  }
  if (sub == "status" || sub == "scale") {
    bool scale = sub == "scale";
    if (info.verb == "get") {
      if (scale) {
        co_await send_result(current, true);
      } else {
        {
          Response reply = StoredResponse(200, **current);
          co_await res.Send(std::move(reply));
        }
      }
      co_return;
    }
    if (info.verb == "update") {
      auto body = api::DecodeJson(req.body);
      if (!body.ok() || !body->is_object()) {
        RETURN_REPLY(ErrorResponse(body.ok() ? BadRequest("the body must be an object") : body.status(), &info));
      }
      if (scale) {
        const json::value* r = nullptr;
        if (auto* spec = body->as_object().if_contains("spec"); spec && spec->is_object())
          r = spec->as_object().if_contains("replicas");
        int64_t replicas = r && r->is_int64() ? r->as_int64() : 0;
        if (replicas < 0) {
          Status bad = rest_.InvalidError(
              kind, info.name,
              std::vector<Cause>(1, Cause{"FieldValueInvalid",
                                          "Invalid value: " + std::to_string(replicas) +
                                              ": must be greater than or equal to 0",
                                          "spec.replicas"}));
          RETURN_REPLY(ErrorResponse(bad, &info));
        }
        std::string want_rv = std::string(internal::MetaString(body->as_object(), "resourceVersion"));
        if (!want_rv.empty() && want_rv != std::to_string((*current)->mod_revision)) {
          {
            Response reply = ErrorResponse(
              Conflict("Operation cannot be fulfilled on " + QualifiedResource(kind) + " \"" +
                       info.name +
                       "\": the object has been modified; please apply your changes to the latest "
                       "version and try again"),
              &info);
            co_await res.Send(std::move(reply));
          }
          co_return;
        }
        std::function<Status(json::object&)> set_replicas = [replicas](json::object& o) {
          json::value& spec = o["spec"];
          if (!spec.is_object()) spec.emplace_object();
          spec.as_object()["replicas"] = replicas;
          return Status::Ok();
        };
        WriteOptions validated;
        Result<ObjectPtr> out = co_await rest_.Mutate(kind, ns, name, set_replicas, validated);
        co_await send_result(out, true);
        co_return;
      }
      std::string status_sub = "status";
      json::value v = std::move(*body);
      Result<ObjectPtr> out = co_await rest_.Update(kind, ns, name, status_sub, std::move(v), opts);
      co_await send_result(out, false);
      co_return;
    }
    if (info.verb == "patch") {
      auto pt = patch_type(req.Header("content-type"));
      auto patch = api::DecodeJson(req.body);
      if (!pt.ok() || !patch.ok()) {
        RETURN_REPLY(ErrorResponse(!pt.ok() ? pt.status() : patch.status(), &info));
      }
      std::string which = sub;
      json::value v = std::move(*patch);
      Result<ObjectPtr> out = co_await rest_.Patch(kind, ns, name, which, *pt, std::move(v), opts);
      co_await send_result(out, scale);
      co_return;
    }
  }
  if (sub == "binding" && info.verb == "create") {
    auto body = api::DecodeJson(req.body);
    if (!body.ok() || !body->is_object()) {
      RETURN_REPLY(ErrorResponse(body.ok() ? BadRequest("the body must be a Binding") : body.status(), &info));
    }
    std::string node;
    if (auto* t = body->as_object().if_contains("target"); t && t->is_object()) {
      if (auto* n = t->as_object().if_contains("name"); n && n->is_string())
        node = std::string(n->as_string());
    }
    if (node.empty()) {
      Status bad = rest_.InvalidError(
          kind, info.name, std::vector<Cause>(1, Cause{"FieldValueRequired", "Required value", "target.name"}));
      RETURN_REPLY(ErrorResponse(bad, &info));
    }
    std::string pod = info.name;
    std::function<Status(json::object&)> bind = [&](json::object& o) -> Status {
      if (!internal::MetaString(o, "deletionTimestamp").empty())
        return Conflict("pod " + pod + " is being deleted, cannot be assigned to a host");
      json::value& spec = o["spec"];
      if (!spec.is_object()) spec.emplace_object();
      auto* cur = spec.as_object().if_contains("nodeName");
      if (cur && cur->is_string() && !cur->as_string().empty()) {
        return Conflict("pod " + pod + " is already assigned to node \"" +
                        std::string(cur->as_string()) + "\"");
      }
      spec.as_object()["nodeName"] = node;
      // Like Kubernetes' binding storage: the pod is now scheduled (PodScheduled=True), and
      // the Binding's annotations are copied onto the pod.
      if (auto* bm = body->as_object().if_contains("metadata"); bm && bm->is_object()) {
        if (auto* ann = bm->as_object().if_contains("annotations"); ann && ann->is_object()) {
          json::value& meta = o["metadata"];
          if (!meta.is_object()) meta.emplace_object();
          json::value& dst = meta.as_object()["annotations"];
          if (!dst.is_object()) dst.emplace_object();
          for (const auto& [k, v] : ann->as_object()) dst.as_object()[k] = v;
        }
      }
      json::value& status = o["status"];
      if (!status.is_object()) status.emplace_object();
      json::value& conds = status.as_object()["conditions"];
      if (!conds.is_array()) conds.emplace_array();
      json::object scheduled{{"type", "PodScheduled"}, {"status", "True"}, {"lastProbeTime", nullptr},
                             {"lastTransitionTime", FormatRfc3339(Clock::Real().NowUnix())}};
      bool replaced = false;
      for (json::value& c : conds.as_array()) {
        if (!c.is_object()) continue;
        auto* t = c.as_object().if_contains("type");
        if (!t || !t->is_string() || t->as_string() != "PodScheduled") continue;
        auto* st = c.as_object().if_contains("status");
        if (st && st->is_string() && st->as_string() == "True") {
          replaced = true;  // already so: keep its transition time
        } else {
          c = scheduled;
          replaced = true;
        }
      }
      if (!replaced) conds.as_array().push_back(scheduled);
      return Status::Ok();
    };
    WriteOptions system;
    system.skip_update_validation = true;
    Result<ObjectPtr> out = co_await rest_.Mutate(kind, ns, name, bind, system);
    if (!out.ok()) {
      RETURN_REPLY(ErrorResponse(out.status(), &info));
    }
    RETURN_REPLY(Success(201));
  }
  if (sub == "eviction" && info.verb == "create") {
    DeleteOptions d;
    Result<ObjectPtr> out = co_await rest_.Delete(kind, ns, name, d);
    if (!out.ok()) {
      RETURN_REPLY(ErrorResponse(out.status(), &info));
    }
    RETURN_REPLY(Success(201));
  }
  if (sub == "finalize" && info.verb == "update") {
    auto body = api::DecodeJson(req.body);
    if (!body.ok() || !body->is_object()) {
      RETURN_REPLY(ErrorResponse(body.ok() ? BadRequest("the body must be a Namespace") : body.status(), &info));
    }
    json::value finalizers = json::array();
    if (auto* s = body->as_object().if_contains("spec"); s && s->is_object())
      if (auto* f = s->as_object().if_contains("finalizers")) finalizers = *f;
    std::function<Status(json::object&)> set_finalizers = [&](json::object& o) {
      json::value& spec = o["spec"];
      if (!spec.is_object()) spec.emplace_object();
      spec.as_object()["finalizers"] = finalizers;
      return Status::Ok();
    };
    WriteOptions validated;
    Result<ObjectPtr> out = co_await rest_.Mutate(kind, ns, name, set_finalizers, validated);
    co_await send_result(out, false);
    co_return;
  }
  if (sub == "log" || sub == "exec" || sub == "attach" || sub == "portforward" || sub == "proxy") {
    std::string node;
    if (auto* s = (*current)->obj.if_contains("spec"); s && s->is_object()) {
      if (auto* n = s->as_object().if_contains("nodeName"); n && n->is_string())
        node = std::string(n->as_string());
    }
    if (kind.kind == "Pod" && node.empty()) {
      {
        Response reply = ErrorResponse(
          BadRequest("pod " + info.name + " does not have a host assigned"), &info);
        co_await res.Send(std::move(reply));
      }
      co_return;
    }
    if (kind.kind == "Node" && sub == "proxy") {
      co_await ProxyNodeApi(req, res, info, (*current)->obj);
      co_return;
    }
    if (kind.kind == "Pod" && sub != "proxy") {
      co_await ProxyToNode(req, res, info, (*current)->obj);
      co_return;
    }
    {
      Response reply = ErrorResponse(
        Unavailable("no node agent is serving " + (node.empty() ? info.name : "node " + node) +
                    ": " + sub + " needs the node agent, which this server does not run yet"),
        &info);
      co_await res.Send(std::move(reply));
    }
    co_return;
  }
  {
    Response reply = ErrorResponse(MethodNotAllowed(), &info);
    co_await res.Send(std::move(reply));
  }
}

}  // namespace sampan::apiserver
