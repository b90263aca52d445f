#include "client/config.h"

#include <yaml-cpp/yaml.h>

#include <array>
#include <cerrno>
#include <fstream>
#include <sstream>

namespace sampan::client {
namespace {

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoStatus("open " + path, errno);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Resolve(const std::string& base_dir, const std::string& p) {
  if (p.empty() || p[0] == '/' || base_dir.empty()) return p;
  return base_dir + "/" + p;
}

// Finds entry `name` in a kubeconfig list (clusters/users/contexts) and returns its `field` map.
YAML::Node FindNamed(const YAML::Node& list, const std::string& name, const char* field) {
  if (!list || !list.IsSequence()) return YAML::Node();
  for (const auto& item : list) {
    if (item["name"] && item["name"].as<std::string>() == name) return item[field];
  }
  return YAML::Node();
}

std::string Str(const YAML::Node& n, const char* key) {
  if (!n || !n.IsMap() || !n[key] || !n[key].IsScalar()) return "";
  return n[key].as<std::string>();
}

// Reads `<key>-data` (base64) or `<key>` (a file path).
Result<std::string> DataOrFile(const YAML::Node& n, const std::string& key,
                               const std::string& base_dir) {
  std::string data = Str(n, (key + "-data").c_str());
  if (!data.empty()) return DecodeBase64(data);
  std::string file = Str(n, key.c_str());
  if (!file.empty()) return ReadFile(Resolve(base_dir, file));
  return std::string();
}

}  // namespace

Result<std::string> DecodeBase64(std::string_view text) {
  static const auto kTable = [] {
    std::array<int8_t, 256> t{};
    t.fill(-1);
    const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(a[i])] = static_cast<int8_t>(i);
    return t;
  }();
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=' || c == '\n' || c == '\r' || c == ' ' || c == '\t') continue;
    int8_t v = kTable[static_cast<unsigned char>(c)];
    if (v < 0) return Invalid("illegal base64 data");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

Result<ClientConfig> LoadKubeconfig(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Invalid("kubeconfig " + path + ": " + e.what());
  }
  std::string base_dir;
  if (auto slash = path.rfind('/'); slash != std::string::npos) base_dir = path.substr(0, slash);
  std::string ctx_name = Str(root, "current-context");
  YAML::Node ctx = FindNamed(root["contexts"], ctx_name, "context");
  std::string cluster_name, user_name;
  if (ctx) {
    cluster_name = Str(ctx, "cluster");
    user_name = Str(ctx, "user");
  } else if (root["contexts"] && root["contexts"].size() == 1) {
    ctx = root["contexts"][0]["context"];
    cluster_name = Str(ctx, "cluster");
    user_name = Str(ctx, "user");
  }
  YAML::Node cluster = FindNamed(root["clusters"], cluster_name, "cluster");
  if (!cluster) return Invalid("kubeconfig " + path + ": no cluster for the current context");
  YAML::Node user = FindNamed(root["users"], user_name, "user");

  ClientConfig cfg;
  cfg.server = Str(cluster, "server");
  if (cfg.server.empty()) return Invalid("kubeconfig " + path + ": the cluster has no server");
  cfg.insecure_skip_verify = Str(cluster, "insecure-skip-tls-verify") == "true";
  ASSIGN_OR_RETURN(cfg.ca_pem, DataOrFile(cluster, "certificate-authority", base_dir));
  if (user) {
    ASSIGN_OR_RETURN(cfg.client_cert_pem, DataOrFile(user, "client-certificate", base_dir));
    ASSIGN_OR_RETURN(cfg.client_key_pem, DataOrFile(user, "client-key", base_dir));
    cfg.bearer_token = Str(user, "token");
    if (std::string tf = Str(user, "tokenFile"); cfg.bearer_token.empty() && !tf.empty()) {
      ASSIGN_OR_RETURN(std::string tok, ReadFile(Resolve(base_dir, tf)));
      while (!tok.empty() && (tok.back() == '\n' || tok.back() == '\r')) tok.pop_back();
      cfg.bearer_token = tok;
    }
  }
  return cfg;
}

}  // namespace sampan::client
