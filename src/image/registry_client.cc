#include "image/registry_client.h"

#include <boost/json.hpp>
#include <cctype>

#include "util/base64.h"

namespace sampan::image {

namespace json = boost::json;

namespace {

std::string StripParams(std::string v) {
  auto semi = v.find(';');
  if (semi != std::string::npos) v.resize(semi);
  while (!v.empty() && v.back() == ' ') v.pop_back();
  return v;
}

}  // namespace

Challenge ParseChallenge(std::string_view h) {
  Challenge c;
  size_t i = 0;
  while (i < h.size() && h[i] == ' ') ++i;
  size_t sp = h.find(' ', i);
  c.scheme = std::string(h.substr(i, sp == std::string_view::npos ? h.size() - i : sp - i));
  for (auto& ch : c.scheme) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (sp == std::string_view::npos) return c;
  i = sp + 1;
  while (i < h.size()) {
    while (i < h.size() && (h[i] == ' ' || h[i] == ',')) ++i;
    size_t eq = h.find('=', i);
    if (eq == std::string_view::npos) break;
    std::string key(h.substr(i, eq - i));
    for (auto& ch : key) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    i = eq + 1;
    std::string value;
    if (i < h.size() && h[i] == '"') {
      ++i;
      while (i < h.size() && h[i] != '"') {
        if (h[i] == '\\' && i + 1 < h.size()) ++i;
        value.push_back(h[i++]);
      }
      ++i;
    } else {
      while (i < h.size() && h[i] != ',') value.push_back(h[i++]);
    }
    c.params[key] = value;
  }
  return c;
}

Status RegistryError(const HttpResponse& resp, std::string_view what) {
  std::string detail;
  boost::system::error_code ec;
  json::value v = json::parse(resp.body, ec);
  if (!ec && v.is_object()) {
    if (auto* errs = v.as_object().if_contains("errors"); errs && errs->is_array()) {
      for (const auto& e : errs->as_array()) {
        if (!e.is_object()) continue;
        auto* code = e.as_object().if_contains("code");
        auto* msg = e.as_object().if_contains("message");
        if (!detail.empty()) detail += "; ";
        if (code && code->is_string()) detail += std::string(code->as_string());
        if (msg && msg->is_string()) detail += ": " + std::string(msg->as_string());
      }
    }
  }
  if (detail.empty()) detail = "HTTP " + std::to_string(resp.status);
  std::string m = std::string(what) + ": " + detail;
  switch (resp.status) {
    case 401:
      return Status(Code::kUnauthorized, m);
    case 403:
      return Forbidden(m);
    case 404:
      return NotFound(m);
    case 429:
      return Status(Code::kTooManyRequests, m);
    default:
      return Unavailable(m);
  }
}

RegistryClient::RegistryClient(std::vector<Endpoint> endpoints) : endpoints_(std::move(endpoints)) {
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    if (!endpoints_[i].host_config.auth.token.empty()) {
      auth_header_[i] = "Bearer " + endpoints_[i].host_config.auth.token;
    }
  }
}

std::string RegistryClient::UrlFor(size_t i, const std::string& suffix) const {
  const Endpoint& ep = endpoints_[i];
  std::string u =
      ep.base.scheme + "://" + ep.base.HostPort() + ep.base.target + "v2/" + ep.path + suffix;
  if (ep.is_mirror) u += "?ns=" + QueryEscape(ep.ns);
  return u;
}

Status RegistryClient::Authenticate(size_t i, const std::string& header) {
  const Endpoint& ep = endpoints_[i];
  const RegistryAuth& auth = ep.host_config.auth;
  Challenge c = ParseChallenge(header);
  if (c.scheme == "basic") {
    if (auth.username.empty() && auth.password.empty()) {
      return Status(Code::kUnauthorized, ep.base.HostPort() +
                                             " requires a username and password (configs." +
                                             ep.base.HostPort() + ".auth)");
    }
    auth_header_[i] = "Basic " + Base64Encode(auth.username + ":" + auth.password);
    return Status::Ok();
  }
  if (c.scheme != "bearer") {
    return Status(Code::kUnauthorized,
                  ep.base.HostPort() + ": unsupported auth challenge \"" + header + "\"");
  }
  std::string realm = c.params["realm"];
  if (realm.empty()) return Status(Code::kUnauthorized, "bearer challenge without realm");
  std::string sep = realm.find('?') == std::string::npos ? "?" : "&";
  std::string url = realm;
  if (!c.params["service"].empty()) {
    url += sep + "service=" + QueryEscape(c.params["service"]);
    sep = "&";
  }
  url += sep + "scope=" + QueryEscape("repository:" + ep.path + ":pull");
  ASSIGN_OR_RETURN(Url token_url, ParseUrl(url));
  HttpRequest req;
  req.url = token_url;
  if (!auth.username.empty() || !auth.password.empty()) {
    req.headers["Authorization"] = "Basic " + Base64Encode(auth.username + ":" + auth.password);
  }
  HttpClient http(ep.host_config.tls);
  ASSIGN_OR_RETURN(HttpResponse resp, http.Do(req));
  if (resp.status != 200)
    return RegistryError(resp, "fetching a token from " + token_url.HostPort());
  boost::system::error_code ec;
  json::value v = json::parse(resp.body, ec);
  std::string token;
  if (!ec && v.is_object()) {
    for (const char* k : {"token", "access_token"}) {
      auto* t = v.as_object().if_contains(k);
      if (t && t->is_string() && !t->as_string().empty()) {
        token = std::string(t->as_string());
        break;
      }
    }
  }
  if (token.empty()) return Status(Code::kUnauthorized, "token endpoint returned no token");
  auth_header_[i] = "Bearer " + token;
  return Status::Ok();
}

Result<HttpResponse> RegistryClient::Send(size_t i, const std::string& suffix, HttpRequest req) {
  ASSIGN_OR_RETURN(req.url, ParseUrl(UrlFor(i, suffix)));
  HttpClient http(endpoints_[i].host_config.tls);
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (auto it = auth_header_.find(i); it != auth_header_.end()) {
      req.headers["Authorization"] = it->second;
    }
    ASSIGN_OR_RETURN(HttpResponse resp, http.Do(req));
    if (resp.status != 401 || attempt == 1) return resp;
    std::string challenge = resp.Header("www-authenticate");
    if (challenge.empty()) return resp;
    RETURN_IF_ERROR(Authenticate(i, challenge));
  }
  return Internal("unreachable");
}

Result<RegistryClient::Fetched> RegistryClient::GetManifest(const std::string& locator) {
  Status last = Unavailable("no registry endpoint");
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    HttpRequest req;
    req.headers["Accept"] = media::ManifestAccept();
    req.max_body = 4 << 20;
    auto resp = Send(i, "/manifests/" + locator, req);
    if (!resp.ok()) {
      last = resp.status().WithContext(endpoints_[i].base.HostPort());
      continue;
    }
    if (resp->status != 200) {
      last = RegistryError(*resp, "manifest " + endpoints_[i].path + ":" + locator + " at " +
                                      endpoints_[i].base.HostPort());
      continue;  // a mirror that lacks it: try the next endpoint
    }
    Fetched f;
    f.body = std::move(resp->body);
    f.media_type = StripParams(resp->Header("content-type"));
    f.digest = DigestOf(f.body);
    std::string header = resp->Header("docker-content-digest");
    if (locator.rfind("sha256:", 0) == 0 && f.digest != locator) {
      return Invalid("digest mismatch: manifest " + locator + " from " +
                     endpoints_[i].base.HostPort() + " hashes to " + f.digest);
    }
    if (!header.empty() && header.rfind("sha256:", 0) == 0 && header != f.digest) {
      return Invalid("digest mismatch: registry says the manifest is " + header +
                     " but it hashes to " + f.digest);
    }
    preferred_ = i;
    return f;
  }
  return last;
}

Status RegistryClient::FetchBlob(const Descriptor& d, ContentStore& store,
                                 const ProgressFn& progress, bool* created) {
  std::vector<size_t> order{preferred_};
  for (size_t i = 0; i < endpoints_.size(); ++i)
    if (i != preferred_) order.push_back(i);
  Status last = Unavailable("no registry endpoint");
  for (size_t i : order) {
    ASSIGN_OR_RETURN(auto writer, store.Writer(d.digest, d.size));
    HttpRequest req;
    req.sink = [&](const char* data, size_t n) {
      RETURN_IF_ERROR(writer->Write(data, n));
      if (progress) progress(d.digest, writer->written(), d.size);
      return Status::Ok();
    };
    auto resp = Send(i, "/blobs/" + d.digest, req);
    if (!resp.ok()) {
      // A digest/size violation is the content's fault, not the endpoint's: report it.
      if (resp.status().code() == Code::kInvalid) return resp.status();
      last = resp.status().WithContext(endpoints_[i].base.HostPort());
      continue;
    }
    if (resp->status != 200) {
      last = RegistryError(*resp, "blob " + d.digest + " at " + endpoints_[i].base.HostPort());
      continue;
    }
    return writer->Commit(created).WithContext("blob " + d.digest + " from " +
                                               endpoints_[i].base.HostPort());
  }
  return last;
}

}  // namespace sampan::image
