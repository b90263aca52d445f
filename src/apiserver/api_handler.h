// The Kubernetes REST API over HTTP: routing of /api, /apis, discovery, OpenAPI,
// health and version endpoints to the generic REST storage, content negotiation
// (JSON, YAML and protobuf bodies; JSON or Table replies) and Status errors.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <boost/asio/awaitable.hpp>
#include <boost/json/fwd.hpp>
#include <string>

#include "api/schema.h"
#include "apiserver/http.h"
#include "apiserver/rest.h"
#include "apiserver/review.h"

namespace sampan::apiserver {

// Where a request is aimed, parsed from its path (Kubernetes' RequestInfo).
struct RequestInfo {
  bool is_resource = false;
  std::string api_prefix;  // "api" or "apis"
  std::string group, version;
  std::string ns;
  std::string resource;
  std::string name;
  std::string subresource;
  std::string verb;  // get list watch create update patch delete deletecollection
  const api::KindInfo* kind = nullptr;  // the stored kind
  // events.k8s.io/v1 Events are stored as core/v1 Events: `kind` is then the core kind and
  // `view_kind` the one the client speaks; bodies and replies are converted at the edge.
  const api::KindInfo* view_kind = nullptr;
  bool events_v1() const { return view_kind != kind; }
};

// The object as the client's API version shows it.
boost::json::object ViewOf(const RequestInfo& info, const boost::json::object& stored);

// Decodes a create/update body by its Content-Type (JSON, YAML or protobuf); repeated keys go to
// `duplicates`.
Result<boost::json::value> DecodeBody(const Request& req, const api::Registry& registry,
                                      std::vector<std::string>* duplicates);

// Parses `req`'s path and method. NotFound for paths that name no resource.
Result<RequestInfo> ParseRequestInfo(const Request& req, const api::Registry& registry);

class ApiHandler {
 public:
  ApiHandler(Rest& rest, const api::Registry& registry);

  asio::awaitable<void> Handle(Request& req, Responder& res);
  void SetReady(bool ready) { ready_ = ready; }
  // host:port clients reach us at (APIVersions' serverAddressByClientCIDRs).
  void SetAdvertiseAddress(std::string addr) { advertise_ = std::move(addr); }
  // The client certificate presented to node agents when proxying pod log/exec/attach/
  // portforward (without one those answer that no node agent is reachable).
  void SetKubeletClient(std::string cert_file, std::string key_file);
  // The signer of service account tokens (TokenRequest); without one that API answers 404.
  void SetServiceAccountTokens(const class ServiceAccountTokens* tokens) { sa_tokens_ = tokens; }
  // Who may do what (apiserver/rbac.h); without one every authenticated request is allowed.
  void SetAuthorizer(const class Authorizer* authz) { authz_ = authz; }
  // The node-join endpoints (/v1-sampan/...; node_join.h); none when unset.
  void SetNodeJoin(const class NodeJoin* join) { node_join_ = join; }
  // How TokenReview checks tokens; without one every token is reported invalid.
  void SetTokenReviewer(TokenReviewer reviewer) { token_reviewer_ = std::move(reviewer); }

 private:
  asio::awaitable<void> Route(Request& req, Responder& res);
  asio::awaitable<void> HandleResource(Request& req, Responder& res, const RequestInfo& info);
  asio::awaitable<void> HandleSubresource(Request& req, Responder& res, const RequestInfo& info);
  asio::awaitable<void> Watch(Request& req, Responder& res, const RequestInfo& info);
  asio::awaitable<bool> HandleNonResource(Request& req, Responder& res);
  // Impersonate-User/-Group/-Uid/-Extra-* headers: replaces req.identity with the impersonated
  // user once the caller may impersonate each part; the error to answer otherwise.
  Status Impersonate(Request& req) const;
  // Whether req.identity may `verb` the non-resource `path`; the Forbidden error otherwise.
  Status AuthorizePath(const Request& req) const;
  // The same for a resource request.
  Status AuthorizeResource(const Request& req, const RequestInfo& info) const;
  // A review (review.h) answered for this request.
  Result<boost::json::object> Review(const Request& req, const RequestInfo& info,
                                     boost::json::object request) const;
  // node_proxy.cc: pods/log|exec|attach|portforward through the pod's node agent.
  asio::awaitable<void> ProxyToNode(Request& req, Responder& res, const RequestInfo& info,
                                    const boost::json::object& pod);
  // node_proxy.cc: pods/[scheme:]{name}[:port]/proxy/{path} over HTTP to the pod's IP.
  asio::awaitable<void> ProxyToPod(Request& req, Responder& res, const RequestInfo& info);
  // node_proxy.cc: nodes/{name}/proxy/{path} to that node agent's kubelet API.
  asio::awaitable<void> ProxyNodeApi(Request& req, Responder& res, const RequestInfo& info,
                                     const boost::json::object& node);
  // token_request.cc: serviceaccounts/{name}/token, the TokenRequest API.
  asio::awaitable<void> CreateToken(Request& req, Responder& res, const RequestInfo& info,
                                    const boost::json::object& account);

  Rest& rest_;
  const api::Registry& registry_;
  std::atomic<bool> ready_{false};
  std::string advertise_ = "127.0.0.1:6443";
  std::shared_ptr<class NodeProxy> node_proxy_;
  const class ServiceAccountTokens* sa_tokens_ = nullptr;
  const class Authorizer* authz_ = nullptr;
  const class NodeJoin* node_join_ = nullptr;
  TokenReviewer token_reviewer_;
  // OpenAPI documents, built once on first use.
  std::once_flag openapi_once_;
  std::map<std::string, std::string> openapi_v3_;  // key → JSON text
  std::string openapi_v3_root_;
  std::string openapi_v2_;
  std::string openapi_v2_proto_;
};

// The field selector in the stored kind's field names (events.k8s.io → core/v1 Event).
std::string FieldSelectorForStorage(const RequestInfo& info, std::string_view selector);

// Inside a handler coroutine: sends `response_expr` and returns. A macro because co_await
// cannot move into a helper, and the reply must be a named variable (see store_await.h).
#define RETURN_REPLY(response_expr)                 \
  do {                                              \
    ::sampan::apiserver::Response reply_ = (response_expr); \
    co_await res.Send(std::move(reply_));           \
    co_return;                                      \
  } while (0)
// The same for the handlers that return whether they answered.
#define RETURN_REPLY_TRUE(response_expr)            \
  do {                                              \
    ::sampan::apiserver::Response reply_ = (response_expr); \
    co_await res.Send(std::move(reply_));           \
    co_return true;                                 \
  } while (0)

// A metav1.Status JSON for an error.
std::string StatusJson(const Status& st, std::string_view kind_for_details = "",
                       std::string_view name_for_details = "",
                       std::string_view group_for_details = "");
Response ErrorResponse(const Status& st, const RequestInfo* info = nullptr);
// A reply whose body is `v` serialized.
Response JsonResponse(int status, const boost::json::value& v,
                      std::string_view content_type = "application/json");
// A reply with a stored object: its text as serialized once when it was stored (no copy of
// the object, no second serialization).
Response StoredResponse(int status, const StoredObject& obj);
// 405 for a verb the requested resource does not offer.
Status MethodNotAllowed();

}  // namespace sampan::apiserver
