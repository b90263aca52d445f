#include "image/registry_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <regex>

#include "util/base64.h"
#include "util/fs.h"

namespace sampan::image {
namespace {

std::string HostOf(std::string_view host_port) {
  if (!host_port.empty() && host_port[0] == '[') {
    return std::string(host_port.substr(1, host_port.find(']') - 1));
  }
  if (std::count(host_port.begin(), host_port.end(), ':') > 1) return std::string(host_port);
  return std::string(host_port.substr(0, host_port.find(':')));
}

}  // namespace

bool IsLoopbackHost(std::string_view host_port) {
  std::string host = HostOf(host_port);
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

Result<RegistryConfig> RegistryConfig::Parse(const std::string& text) {
  RegistryConfig c;
  try {
    YAML::Node root = YAML::Load(text);
    if (!root || root.IsNull()) return c;
    if (!root.IsMap()) return Invalid("registries config: not a mapping");
    if (auto m = root["mirrors"]) {
      for (const auto& kv : m) {
        MirrorConfig mc;
        std::string reg = kv.first.as<std::string>();
        if (auto ep = kv.second["endpoint"]) {
          for (const auto& e : ep) mc.endpoints.push_back(e.as<std::string>());
        }
        if (auto rw = kv.second["rewrite"]) {
          for (const auto& r : rw) {
            std::string pattern = r.first.as<std::string>();
            try {
              std::regex check(pattern);
            } catch (const std::regex_error& e) {
              return Invalid("registries config: mirrors." + reg + ".rewrite: bad regex \"" +
                             pattern + "\": " + e.what());
            }
            mc.rewrites.emplace_back(pattern, r.second.as<std::string>());
          }
        }
        c.mirrors[reg] = std::move(mc);
      }
    }
    if (auto cfgs = root["configs"]) {
      for (const auto& kv : cfgs) {
        RegistryHostConfig hc;
        std::string host = kv.first.as<std::string>();
        if (auto a = kv.second["auth"]) {
          hc.auth.username = a["username"].as<std::string>("");
          hc.auth.password = a["password"].as<std::string>("");
          hc.auth.token = a["token"].as<std::string>("");
          if (a["identitytoken"]) hc.auth.token = a["identitytoken"].as<std::string>("");
          if (auto b = a["auth"]) {
            std::string dec = Base64Decode(b.as<std::string>()).value_or("");
            auto colon = dec.find(':');
            if (colon == std::string::npos) {
              return Invalid("registries config: configs." + host +
                             ".auth.auth is not base64(user:password)");
            }
            hc.auth.username = dec.substr(0, colon);
            hc.auth.password = dec.substr(colon + 1);
          }
        }
        if (auto t = kv.second["tls"]) {
          hc.tls.ca_file = t["ca_file"].as<std::string>("");
          hc.tls.cert_file = t["cert_file"].as<std::string>("");
          hc.tls.key_file = t["key_file"].as<std::string>("");
          hc.tls.insecure_skip_verify = t["insecure_skip_verify"].as<bool>(false);
        }
        c.configs[host] = std::move(hc);
      }
    }
    if (auto ins = root["insecure"]) {
      for (const auto& h : ins) c.insecure.push_back(h.as<std::string>());
    }
    c.disable_default_endpoint = root["disable_default_endpoint"].as<bool>(false);
  } catch (const YAML::Exception& e) {
    return Invalid(std::string("registries config: ") + e.what());
  }
  return c;
}

Result<RegistryConfig> RegistryConfig::Load(const std::string& path) {
  auto text = fs::ReadFile(path);
  if (!text.ok()) {
    if (text.status().code() == Code::kNotFound) return RegistryConfig{};
    return text.status();
  }
  auto c = Parse(*text);
  if (!c.ok()) return c.status().WithContext(path);
  return c;
}

Result<std::vector<Endpoint>> EndpointsFor(const RegistryConfig& config, const Reference& ref) {
  std::vector<Endpoint> out;
  auto host_config = [&](const std::string& host_port) {
    auto it = config.configs.find(host_port);
    if (it == config.configs.end()) it = config.configs.find("*");
    return it == config.configs.end() ? RegistryHostConfig{} : it->second;
  };
  auto insecure = [&](const std::string& host_port) {
    return IsLoopbackHost(host_port) || std::find(config.insecure.begin(), config.insecure.end(),
                                                  host_port) != config.insecure.end();
  };
  std::string default_host =
      ref.domain == kDefaultDomain ? std::string(kDockerHubHost) : ref.domain;
  std::string default_url = (insecure(ref.domain) ? "http://" : "https://") + default_host;

  const MirrorConfig* mirror = nullptr;
  if (auto it = config.mirrors.find(ref.domain); it != config.mirrors.end()) {
    mirror = &it->second;
  } else if (auto star = config.mirrors.find("*"); star != config.mirrors.end()) {
    mirror = &star->second;
  }
  if (mirror) {
    for (const auto& raw : mirror->endpoints) {
      std::string text = raw;
      if (text.find("://") == std::string::npos) {
        std::string hp = text.substr(0, text.find('/'));
        text = (insecure(hp) ? "http://" : "https://") + text;
      }
      ASSIGN_OR_RETURN(Url u, ParseUrl(text));
      // A trailing "/v2" (as registries.yaml examples write it) is implied.
      std::string prefix = u.target;
      if (prefix.size() >= 3 && prefix.ends_with("/v2")) prefix.resize(prefix.size() - 3);
      if (prefix.ends_with("/v2/")) prefix.resize(prefix.size() - 4);
      if (prefix.empty() || prefix.back() != '/') prefix += '/';
      u.target = prefix;
      ASSIGN_OR_RETURN(Url d, ParseUrl(default_url));
      if (u.scheme == d.scheme && u.host == d.host && u.port == d.port && prefix == "/") {
        continue;  // the default endpoint is always tried last, without rewrites
      }
      Endpoint ep;
      ep.base = u;
      ep.path = ref.path;
      for (const auto& [pattern, replacement] : mirror->rewrites) {
        std::regex re(pattern);
        if (std::regex_search(ep.path, re)) {
          ep.path =
              std::regex_replace(ep.path, re, replacement, std::regex_constants::format_first_only);
          break;
        }
      }
      ep.is_mirror = true;
      ep.ns = ref.domain;
      ep.host_config = host_config(u.HostPort());
      out.push_back(std::move(ep));
    }
  }
  if (!(mirror && config.disable_default_endpoint && !out.empty())) {
    Endpoint ep;
    ASSIGN_OR_RETURN(ep.base, ParseUrl(default_url + "/"));
    ep.path = ref.path;
    ep.host_config = host_config(ref.domain);
    if (ref.domain == kDefaultDomain && config.configs.count(ref.domain) == 0) {
      ep.host_config = host_config(default_host);
    }
    out.push_back(std::move(ep));
  }
  return out;
}

}  // namespace sampan::image
