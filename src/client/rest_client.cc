#include "client/rest_client.h"

#include <atomic>
#include <cctype>
#include <mutex>

#include "client/loopback.h"
#include "client/transport.h"
#include "util/log.h"

namespace sampan::client {
namespace json = boost::json;
namespace http = boost::beast::http;
using internal::Connection;
using internal::Request;
using internal::Response;

namespace {

Code CodeFromReason(std::string_view reason, int http_code) {
  if (reason == "Expired") return Code::kGone;
  for (int c = static_cast<int>(Code::kNotFound); c <= static_cast<int>(Code::kTimeout); ++c) {
    if (CodeReason(static_cast<Code>(c)) == reason) return static_cast<Code>(c);
  }
  switch (http_code) {
    case 400:
      return Code::kBadRequest;
    case 401:
      return Code::kUnauthorized;
    case 403:
      return Code::kForbidden;
    case 404:
      return Code::kNotFound;
    case 405:
      return Code::kMethodNotAllowed;
    case 406:
      return Code::kNotAcceptable;
    case 409:
      return Code::kConflict;
    case 410:
      return Code::kGone;
    case 413:
      return Code::kRequestTooLarge;
    case 415:
      return Code::kUnsupportedMedia;
    case 422:
      return Code::kInvalid;
    case 429:
      return Code::kTooManyRequests;
    case 503:
      return Code::kUnavailable;
    case 504:
      return Code::kTimeout;
    default:
      return Code::kInternal;
  }
}

Status StatusFromObject(const json::object& st, int http_code) {
  std::string reason, message;
  if (auto* r = st.if_contains("reason"); r && r->is_string()) reason = r->as_string().c_str();
  if (auto* m = st.if_contains("message"); m && m->is_string()) message = m->as_string().c_str();
  if (http_code == 0) {
    if (auto* c = st.if_contains("code"); c && c->is_int64())
      http_code = static_cast<int>(c->as_int64());
  }
  std::vector<Cause> causes;
  if (auto* d = st.if_contains("details"); d && d->is_object()) {
    if (auto* cs = d->as_object().if_contains("causes"); cs && cs->is_array()) {
      for (const auto& c : cs->as_array()) {
        if (!c.is_object()) continue;
        Cause cause;
        auto str = [&](const char* k) -> std::string {
          auto* v = c.as_object().if_contains(k);
          return v && v->is_string() ? std::string(v->as_string()) : std::string();
        };
        cause.reason = str("reason");
        cause.message = str("message");
        cause.field = str("field");
        causes.push_back(std::move(cause));
      }
    }
  }
  Code code = CodeFromReason(reason, http_code);
  if (message.empty()) message = "the server returned HTTP " + std::to_string(http_code);
  return Status(code, std::move(message), std::move(causes));
}

std::string ListQuery(const ListOptions& o, bool watch) {
  std::string q;
  auto add = [&](std::string_view k, std::string_view v) {
    q += q.empty() ? '?' : '&';
    q += k;
    q += '=';
    q += QueryEscape(v);
  };
  if (watch) add("watch", "true");
  if (!o.label_selector.empty()) add("labelSelector", o.label_selector);
  if (!o.field_selector.empty()) add("fieldSelector", o.field_selector);
  if (!o.resource_version.empty()) add("resourceVersion", o.resource_version);
  if (!watch && o.limit > 0) add("limit", std::to_string(o.limit));
  if (!watch && !o.continue_token.empty()) add("continue", o.continue_token);
  if (watch && o.timeout_seconds > 0) add("timeoutSeconds", std::to_string(o.timeout_seconds));
  if (watch && o.allow_bookmarks) add("allowWatchBookmarks", "true");
  return q;
}

std::string_view PatchContentType(PatchType t) {
  switch (t) {
    case PatchType::kMerge:
      return "application/merge-patch+json";
    case PatchType::kStrategicMerge:
      return "application/strategic-merge-patch+json";
    case PatchType::kJson:
      return "application/json-patch+json";
  }
  return "application/merge-patch+json";
}

std::string NameOf(const json::object& obj) {
  if (auto* m = obj.if_contains("metadata"); m && m->is_object()) {
    if (auto* n = m->as_object().if_contains("name"); n && n->is_string())
      return std::string(n->as_string());
  }
  return "";
}

// Splits a byte stream into newline-delimited JSON documents.
class WatchStreamImpl final : public WatchStream {
 public:
  WatchStreamImpl(std::unique_ptr<Connection> conn) : conn_(std::move(conn)) {}

  Result<bool> Next(WatchEvent* ev) override {
    for (;;) {
      if (auto nl = pending_.find('\n', scan_from_); nl != std::string::npos) {
        std::string line = pending_.substr(0, nl);
        pending_.erase(0, nl + 1);
        scan_from_ = 0;
        if (line.find_first_not_of(" \r\t") == std::string::npos) continue;
        return Decode(line, ev);
      }
      scan_from_ = pending_.size();
      if (cancelled_.load()) return false;
      if (pending_.empty()) {
        LoopbackEvent le;
        if (conn_->NextEvent(&le)) {
          ev->type = std::move(le.type);
          ev->object = json::object();
          ev->shared = std::move(le.object);
          if (!ev->shared) return Internal("watch event without an object");
          if (ev->type == "ERROR") return StatusFromObject(*ev->shared, 0);
          return true;
        }
      }
      char buf[64 * 1024];
      auto n = conn_->ReadSome(buf, sizeof buf);
      if (!n.ok()) {
        if (cancelled_.load()) return false;
        return n.status();
      }
      if (*n == 0) {
        // The stream ended; a last document without a newline still counts.
        if (pending_.find_first_not_of(" \r\t\n") != std::string::npos) {
          std::string line = std::move(pending_);
          pending_.clear();
          return Decode(line, ev);
        }
        return false;
      }
      pending_.append(buf, *n);
    }
  }

  void Cancel() override {
    cancelled_.store(true);
    conn_->Cancel();
  }

 private:
  Result<bool> Decode(const std::string& line, WatchEvent* ev) {
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    if (ec || !v.is_object()) return Internal("malformed watch event: " + line.substr(0, 200));
    auto& o = v.as_object();
    auto* type = o.if_contains("type");
    auto* obj = o.if_contains("object");
    if (!type || !type->is_string() || !obj || !obj->is_object())
      return Internal("malformed watch event: " + line.substr(0, 200));
    ev->type = std::string(type->as_string());
    ev->object = std::move(obj->as_object());
    ev->shared.reset();
    if (ev->type == "ERROR") return StatusFromObject(ev->object, 0);
    return true;
  }

  std::unique_ptr<Connection> conn_;
  std::string pending_;
  size_t scan_from_ = 0;
  std::atomic<bool> cancelled_{false};
};

class RestClientImpl final : public RestClient {
 public:
  RestClientImpl(ClientConfig cfg, std::unique_ptr<internal::Dialer> dialer)
      : cfg_(std::move(cfg)), dialer_(std::move(dialer)) {}

  Result<json::object> Get(const Resource& r, std::string_view ns, std::string_view name) override {
    return Object("GET", r.Path(ns, name), {}, {});
  }

  Result<json::object> List(const Resource& r, std::string_view ns,
                            const ListOptions& opts) override {
    return Object("GET", r.Path(ns) + ListQuery(opts, false), {}, {});
  }

  Result<json::object> ListAll(const Resource& r, std::string_view ns, ListOptions opts) override {
    ASSIGN_OR_RETURN(json::object first, List(r, ns, opts));
    for (;;) {
      std::string cont;
      if (auto* m = first.if_contains("metadata"); m && m->is_object()) {
        if (auto* c = m->as_object().if_contains("continue"); c && c->is_string())
          cont = c->as_string().c_str();
      }
      if (cont.empty()) break;
      opts.continue_token = cont;
      opts.resource_version.clear();
      ASSIGN_OR_RETURN(json::object page, List(r, ns, opts));
      auto& items = first["items"];
      if (!items.is_array()) items = json::array();
      if (auto* more = page.if_contains("items"); more && more->is_array()) {
        for (auto& it : more->as_array()) items.as_array().push_back(std::move(it));
      }
      auto& md = first["metadata"];
      if (!md.is_object()) md = json::object();
      if (auto* pm = page.if_contains("metadata"); pm && pm->is_object()) {
        if (auto* c = pm->as_object().if_contains("continue"))
          md.as_object()["continue"] = *c;
        else
          md.as_object().erase("continue");
      } else {
        md.as_object().erase("continue");
      }
    }
    if (auto* m = first.if_contains("metadata"); m && m->is_object()) {
      m->as_object().erase("continue");
      m->as_object().erase("remainingItemCount");
    }
    return first;
  }

  Result<json::object> Create(const Resource& r, std::string_view ns,
                              const json::object& obj) override {
    return Object("POST", r.Path(ns), json::serialize(obj), "application/json");
  }

  Result<json::object> Update(const Resource& r, std::string_view ns,
                              const json::object& obj) override {
    std::string name = NameOf(obj);
    if (name.empty()) return Invalid("update: the object has no metadata.name");
    return Object("PUT", r.Path(ns, name), json::serialize(obj), "application/json");
  }

  Result<json::object> UpdateStatus(const Resource& r, std::string_view ns,
                                    const json::object& obj) override {
    std::string name = NameOf(obj);
    if (name.empty()) return Invalid("update status: the object has no metadata.name");
    return Object("PUT", r.Path(ns, name, "status"), json::serialize(obj), "application/json");
  }

  Result<json::object> Patch(const Resource& r, std::string_view ns, std::string_view name,
                             PatchType type, const json::value& patch,
                             std::string_view subresource) override {
    return Object("PATCH", r.Path(ns, name, subresource), json::serialize(patch),
                  PatchContentType(type));
  }

  Status Delete(const Resource& r, std::string_view ns, std::string_view name,
                const DeleteOptions& opts) override {
    json::object body{{"kind", "DeleteOptions"}, {"apiVersion", "v1"}};
    if (opts.propagation_policy) body["propagationPolicy"] = *opts.propagation_policy;
    if (opts.grace_period_seconds) body["gracePeriodSeconds"] = *opts.grace_period_seconds;
    if (!opts.precondition_uid.empty() || !opts.precondition_resource_version.empty()) {
      json::object pre;
      if (!opts.precondition_uid.empty()) pre["uid"] = opts.precondition_uid;
      if (!opts.precondition_resource_version.empty())
        pre["resourceVersion"] = opts.precondition_resource_version;
      body["preconditions"] = std::move(pre);
    }
    auto res = Do("DELETE", r.Path(ns, name), json::serialize(body), "application/json");
    return res.status();
  }

  Result<json::object> GetSubresource(const Resource& r, std::string_view ns, std::string_view name,
                                      std::string_view sub) override {
    return Object("GET", r.Path(ns, name, sub), {}, {});
  }
  Result<json::object> UpdateSubresource(const Resource& r, std::string_view ns,
                                         std::string_view name, std::string_view sub,
                                         const json::object& body) override {
    return Object("PUT", r.Path(ns, name, sub), json::serialize(body), "application/json");
  }
  Result<json::object> CreateSubresource(const Resource& r, std::string_view ns,
                                         std::string_view name, std::string_view sub,
                                         const json::object& body) override {
    return Object("POST", r.Path(ns, name, sub), json::serialize(body), "application/json");
  }

  Result<std::unique_ptr<WatchStream>> Watch(const Resource& r, std::string_view ns,
                                             const ListOptions& opts) override {
    ASSIGN_OR_RETURN(auto conn, dialer_->Connect(Timeout()));
    Request req = MakeRequest("GET", r.Path(ns) + ListQuery(opts, true), {}, {});
    ASSIGN_OR_RETURN(int code, conn->StartStream(req, Timeout()));
    if (code < 200 || code >= 300) {
      std::string body;
      char buf[16 * 1024];
      for (int i = 0; i < 64; ++i) {
        auto n = conn->ReadSome(buf, sizeof buf);
        if (!n.ok() || *n == 0) break;
        body.append(buf, *n);
      }
      return StatusFromResponse(code, body);
    }
    return std::unique_ptr<WatchStream>(std::make_unique<WatchStreamImpl>(std::move(conn)));
  }

  Result<json::value> Do(std::string_view method, std::string_view path, std::string_view body,
                         std::string_view content_type) override {
    Request req = MakeRequest(method, path, body, content_type);
    ASSIGN_OR_RETURN(Response res, RoundTrip(req));
    int code = res.result_int();
    if (code < 200 || code >= 300) return StatusFromResponse(code, res.body());
    if (res.body().empty()) return json::value();
    boost::system::error_code ec;
    json::value v = json::parse(res.body(), ec);
    if (ec) return Internal("the server sent malformed JSON for " + std::string(path));
    return v;
  }

 private:
  std::chrono::milliseconds Timeout() const {
    return std::chrono::seconds(cfg_.request_timeout_seconds > 0 ? cfg_.request_timeout_seconds
                                                                 : 30);
  }

  Result<json::object> Object(std::string_view method, std::string path, std::string_view body,
                              std::string_view content_type) {
    ASSIGN_OR_RETURN(json::value v, Do(method, path, body, content_type));
    if (!v.is_object()) return Internal("expected a JSON object from " + path);
    return std::move(v.as_object());
  }

  Request MakeRequest(std::string_view method, std::string_view path, std::string_view body,
                      std::string_view content_type) {
    Request req;
    req.method_string(method);
    req.target(dialer_->endpoint().base_path + std::string(path));
    req.version(11);
    req.set(http::field::host, dialer_->endpoint().host);
    req.set(http::field::user_agent, cfg_.user_agent);
    req.set(http::field::accept, "application/json");
    if (!cfg_.bearer_token.empty())
      req.set(http::field::authorization, "Bearer " + cfg_.bearer_token);
    if (!content_type.empty()) req.set(http::field::content_type, content_type);
    req.keep_alive(true);
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
      req.body() = std::string(body);
      req.prepare_payload();
    }
    return req;
  }

  // Sends on a pooled connection; a reused connection that fails before any
  // response (the server closed it while idle) is retried once on a fresh one.
  Result<Response> RoundTrip(Request& req) {
    std::unique_ptr<Connection> conn;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!idle_.empty()) {
        conn = std::move(idle_.back());
        idle_.pop_back();
      }
    }
    bool reused = conn != nullptr;
    if (!conn) {
      ASSIGN_OR_RETURN(conn, dialer_->Connect(Timeout()));
    }
    auto res = conn->RoundTrip(req, Timeout());
    if (!res.ok() && reused && res.status().code() == Code::kUnavailable) {
      ASSIGN_OR_RETURN(conn, dialer_->Connect(Timeout()));
      res = conn->RoundTrip(req, Timeout());
    }
    if (res.ok() && conn->reusable()) {
      std::lock_guard<std::mutex> lock(mu_);
      if (idle_.size() < kMaxIdle) idle_.push_back(std::move(conn));
    }
    return res;
  }

  static constexpr size_t kMaxIdle = 32;
  ClientConfig cfg_;
  std::unique_ptr<internal::Dialer> dialer_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mu_
};

}  // namespace

Status StatusFromResponse(int http_code, std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (!ec && v.is_object()) {
    auto& o = v.as_object();
    if (auto* k = o.if_contains("kind"); k && k->is_string() && k->as_string() == "Status")
      return StatusFromObject(o, http_code);
  }
  std::string msg(body.substr(0, 512));
  if (msg.empty()) msg = "the server returned HTTP " + std::to_string(http_code);
  return Status(CodeFromReason("", http_code), msg);
}

Result<std::unique_ptr<RestClient>> RestClient::New(ClientConfig config) {
  ASSIGN_OR_RETURN(auto dialer, internal::Dialer::New(config));
  return std::unique_ptr<RestClient>(
      std::make_unique<RestClientImpl>(std::move(config), std::move(dialer)));
}

}  // namespace sampan::client
