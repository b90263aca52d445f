// Endpoints outside /api/.../resources: version, health, discovery, OpenAPI.
#include <boost/json.hpp>

#include "api/codec.h"
#include "api/discovery.h"
#include "api/openapi.h"
#include "apiserver/api_handler.h"
#include "apiserver/node_join.h"
#include "apiserver/sa_tokens.h"
#include "util/log.h"

namespace sampan::apiserver {

namespace {

constexpr const char* kGitVersion = "v1.32.0-sampan";

Response Text(int status, std::string body) {
  Response r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(body);
  return r;
}


bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

}  // namespace

asio::awaitable<bool> ApiHandler::HandleNonResource(Request& req, Responder& res) {
  const std::string& path = req.path;
  // Joining nodes (node_join.h): their own proof, outside RBAC.
  if (node_join_ && StartsWith(path, "/v1-sampan/")) {
    if (path == "/v1-sampan/cacerts" && req.method == "GET") {
      json::object ca;
      ca["ca"] = node_join_->ca_pem();
      RETURN_REPLY_TRUE(JsonResponse(200, ca));
    }
    if (path == "/v1-sampan/node-credentials" && req.method == "POST") {
      auto body = api::DecodeJson(req.body);
      if (!body.ok() || !body->is_object()) {
        RETURN_REPLY_TRUE(ErrorResponse(BadRequest("the body must be a JSON object")));
      }
      const json::object& o = body->as_object();
      const json::value* token = o.if_contains("token");
      const json::value* node = o.if_contains("nodeName");
      std::string token_text = token && token->is_string() ? std::string(token->as_string()) : "";
      std::string node_name = node && node->is_string() ? std::string(node->as_string()) : "";
      auto creds = node_join_->Credentials(token_text, node_name);
      if (!creds.ok()) {
        LOG(WARNING) << "node join refused for \"" << node_name
                     << "\": " << creds.status().message();
        RETURN_REPLY_TRUE(ErrorResponse(creds.status()));
      }
      LOG(INFO) << "node " << node_name << " joined: issued system:node:" << node_name;
      RETURN_REPLY_TRUE(JsonResponse(200, *creds));
    }
    RETURN_REPLY_TRUE(ErrorResponse(NotFound("the server could not find the requested resource")));
  }
  // Public endpoints (Kubernetes' system:public-info-viewer).
  if (path == "/version" || path == "/version/") {
    if (Status st = AuthorizePath(req); !st.ok()) {
      RETURN_REPLY_TRUE(ErrorResponse(st));
    }
    json::object v{{"major", "1"},
                   {"minor", "32"},
                   {"gitVersion", kGitVersion},
                   {"gitCommit", "0000000000000000000000000000000000000000"},
                   {"gitTreeState", "clean"},
                   {"buildDate", "2026-11-25T00:00:00Z"},
                   {"goVersion", "none"},
                   {"compiler", "gcc"},
                   {"platform", "linux/amd64"}};
    RETURN_REPLY_TRUE(JsonResponse(200, v));
  }
  for (std::string_view h : {"/healthz", "/livez", "/readyz"}) {
    // h, or h + "/..." (compared in place: this runs before every request).
    if (StartsWith(path, h) && (path.size() == h.size() || path[h.size()] == '/')) {
      if (Status st = AuthorizePath(req); !st.ok()) {
        RETURN_REPLY_TRUE(ErrorResponse(st));
      }
      bool ready = h != "/readyz" || ready_;
      std::string body;
      if (req.HasQuery("verbose")) {
        body = std::string("[+]ping ok\n[+]etcd ok\n[") + (ready ? "+" : "-") +
               "]informer-sync " + (ready ? "ok" : "failed: not synced") + "\n" +
               std::string(h.substr(1)) + (ready ? " check passed\n" : " check failed\n");
      } else {
        body = ready ? "ok" : "[-]informer-sync failed: not synced\n" + std::string(h.substr(1)) + " check failed";
      }
      RETURN_REPLY_TRUE(Text(ready ? 200 : 500, body));
    }
  }
  // Service account issuer discovery (OIDC): where the tokens' signing key can be fetched.
  if (path == "/.well-known/openid-configuration" || path == "/openid/v1/jwks") {
    if (!req.identity.authenticated) {
      RETURN_REPLY_TRUE(ErrorResponse(Status(Code::kUnauthorized, "Unauthorized")));
    }
    if (Status st = AuthorizePath(req); !st.ok()) {
      RETURN_REPLY_TRUE(ErrorResponse(st));
    }
    if (!sa_tokens_) {
      RETURN_REPLY_TRUE(ErrorResponse(NotFound("the server could not find the requested resource")));
    }
    if (path == "/openid/v1/jwks") {
      Response r;
      r.content_type = "application/jwk-set+json";
      r.body = sa_tokens_->JwksJson();
      RETURN_REPLY_TRUE(std::move(r));
    }
    json::object config{{"issuer", kServiceAccountIssuer},
                        {"jwks_uri", "https://" + advertise_ + "/openid/v1/jwks"},
                        {"response_types_supported", json::array{"id_token"}},
                        {"subject_types_supported", json::array{"public"}},
                        {"id_token_signing_alg_values_supported", json::array{"RS256"}}};
    RETURN_REPLY_TRUE(JsonResponse(200, config));
  }
  bool discovery = path == "/api" || path == "/api/" || path == "/apis" || path == "/apis/" ||
                   StartsWith(path, "/openapi/");
  if (!discovery) {
    // /api/v1 and /apis/g[/v] are discovery too. Counted in place first: this runs before every
    // resource request, which is none of these.
    size_t count = 0;
    std::string_view first;
    for (size_t i = 1, j; i < path.size() && count <= 3; i = j + 1) {
      j = path.find('/', i);
      if (j == std::string::npos) j = path.size();
      if (j > i && count++ == 0) first = std::string_view(path).substr(i, j - i);
    }
    discovery = (count == 2 && first == "api") || (count >= 2 && count <= 3 && first == "apis");
  }
  if (!discovery) co_return false;
  std::vector<std::string> parts;
  for (size_t i = 1, j; i < path.size(); i = j + 1) {
    j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) parts.push_back(path.substr(i, j - i));
  }
  if (!req.identity.authenticated) {
    RETURN_REPLY_TRUE(ErrorResponse(Status(Code::kUnauthorized, "Unauthorized")));
  }
  if (Status st = AuthorizePath(req); !st.ok()) {
    RETURN_REPLY_TRUE(ErrorResponse(st));
  }
  std::string_view accept = req.Header("accept");
  if (path == "/api" || path == "/api/" || path == "/apis" || path == "/apis/") {
    bool core = StartsWith(path, "/api") && !StartsWith(path, "/apis");
    api::DiscoveryFormat f = api::NegotiateDiscovery(accept);
    if (f != api::DiscoveryFormat::kLegacy) {
      Response r = JsonResponse(200, api::AggregatedDiscovery(registry_, core, f),
                        api::DiscoveryContentType(f));
      r.headers.emplace_back("Vary", "Accept");
      co_await res.Send(std::move(r));
    } else if (core) {
      {
        Response reply = JsonResponse(200, api::ApiVersions(advertise_));
        co_await res.Send(std::move(reply));
      }
    } else {
      {
        Response reply = JsonResponse(200, api::ApiGroupList(registry_));
        co_await res.Send(std::move(reply));
      }
    }
    co_return true;
  }
  if (parts.size() == 2 && parts[0] == "api") {
    auto l = api::ApiResourceList(registry_, "", parts[1]);
    RETURN_REPLY_TRUE(l.ok() ? JsonResponse(200, *l) : ErrorResponse(l.status()));
  }
  if (parts.size() == 2 && parts[0] == "apis") {
    auto g = api::ApiGroup(registry_, parts[1]);
    RETURN_REPLY_TRUE(g.ok() ? JsonResponse(200, *g) : ErrorResponse(g.status()));
  }
  if (parts.size() == 3 && parts[0] == "apis") {
    auto l = api::ApiResourceList(registry_, parts[1], parts[2]);
    RETURN_REPLY_TRUE(l.ok() ? JsonResponse(200, *l) : ErrorResponse(l.status()));
  }
  // OpenAPI.
  std::call_once(openapi_once_, [this] {
    api::OpenApiV3Set set = api::BuildOpenApiV3(registry_);
    openapi_v3_ = std::move(set.documents);
    openapi_v3_root_ = std::move(set.root);
    json::object v2 = api::OpenApiV2Document(registry_);
    openapi_v2_ = json::serialize(v2);
    openapi_v2_proto_ = api::OpenApiV2Protobuf(v2);
  });
  auto raw = [](std::string text) {
    Response r;
    r.body = std::move(text);
    return r;
  };
  if (path == "/openapi/v3" || path == "/openapi/v3/") {
    RETURN_REPLY_TRUE(raw(openapi_v3_root_));
  }
  if (StartsWith(path, "/openapi/v3/")) {
    auto it = openapi_v3_.find(path.substr(std::string("/openapi/v3/").size()));
    if (it == openapi_v3_.end()) {
      {
        Response reply = ErrorResponse(NotFound("the server could not find the requested resource"));
        co_await res.Send(std::move(reply));
      }
    } else {
      {
        Response reply = raw(it->second);
        co_await res.Send(std::move(reply));
      }
    }
    co_return true;
  }
  if (path == "/openapi/v2" || path == "/openapi/v2/") {
    // kubectl asks for the protobuf form; other clients for JSON.
    if (accept.find("protobuf") != std::string_view::npos) {
      Response r = raw(openapi_v2_proto_);
      r.content_type = std::string(api::kOpenApiV2ProtobufContentType);
      co_await res.Send(std::move(r));
      co_return true;
    }
    RETURN_REPLY_TRUE(raw(openapi_v2_));
  }
  RETURN_REPLY_TRUE(ErrorResponse(NotFound("the server could not find the requested resource")));
}

}  // namespace sampan::apiserver
