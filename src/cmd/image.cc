// `sampan image`: the node's image store from the command line (import, pull, ls, inspect,
// rm, prune, rootfs). Everything it does is a call into src/image.
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "cmd/commands.h"
#include "image/image_store.h"
#include "image/registry_config.h"

namespace sampan::cmd {
namespace {

namespace json = boost::json;
using image::ImageStore;

constexpr const char* kUsage =
    "Usage: sampan image [--data-dir DIR] <command> [flags] [args]\n\n"
    "Commands:\n"
    "  import FILE... [--name REPO]   import OCI layout or `docker save` archives\n"
    "  pull REF [--registries FILE]   pull from a registry (mirrors/auth from FILE)\n"
    "  ls [-q]                        list images\n"
    "  inspect REF|ID                 print the image's config as JSON\n"
    "  rm REF|ID...                   remove image names\n"
    "  prune [--grace SECONDS]        delete blobs and snapshots no image uses (alias: gc)\n"
    "  rootfs REF CONTAINER_ID [--mount DIR]   prepare (and mount) a container rootfs\n"
    "  rootfs-rm CONTAINER_ID         delete a container's rootfs (unmount it first)\n\n"
    "Global flags:\n"
    "  --data-dir DIR        the node's data directory (default /var/lib/sampan)\n"
    "  --platform OS/ARCH    platform to import or pull (default: this machine's)\n"
    "  --registries FILE     registries.yaml (default /etc/sampan/registries.yaml)\n";

struct Flags {
  std::map<std::string, std::string> values;
  std::vector<std::string> args;
  bool quiet = false;
};

// Flags may appear anywhere; "--x=v" and "--x v" both work.
bool ParseFlags(int argc, char** argv, Flags* f, std::string* err) {
  static const char* kValued[] = {"data-dir", "name", "registries", "grace", "mount", "platform"};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-q" || a == "--quiet") {
      f->quiet = true;
      continue;
    }
    if (a == "-h" || a == "--help") {
      f->values["help"] = "1";
      continue;
    }
    if (a.rfind("--", 0) != 0) {
      f->args.push_back(a);
      continue;
    }
    std::string name = a.substr(2), value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
      has_value = true;
    }
    bool known = false;
    for (const char* v : kValued) known |= name == v;
    if (!known) {
      *err = "unknown flag --" + name;
      return false;
    }
    if (!has_value) {
      if (i + 1 >= argc) {
        *err = "flag --" + name + " needs a value";
        return false;
      }
      value = argv[++i];
    }
    f->values[name] = value;
  }
  return true;
}

int Fail(const Status& st) {
  std::fprintf(stderr, "sampan image: %s\n", st.ToString().c_str());
  return 1;
}

std::string HumanSize(int64_t b) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f%s" : "%.3g%s", v, units[u]);
  return buf;
}

std::string ShortId(const std::string& digest) {
  return std::string(image::DigestHex(digest)).substr(0, 12);
}

json::array Strings(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

json::object Keys(const std::vector<std::string>& v) {
  json::object o;
  for (const auto& s : v) o[s] = json::object();
  return o;
}

// Pretty-prints JSON with two-space indents.
void PrintJson(const json::value& v, std::string& out, int indent = 0) {
  std::string pad(indent + 2, ' ');
  if (v.is_object()) {
    const auto& o = v.as_object();
    if (o.empty()) {
      out += "{}";
      return;
    }
    out += "{\n";
    size_t n = 0;
    for (const auto& kv : o) {
      out += pad + json::serialize(json::value(kv.key())) + ": ";
      PrintJson(kv.value(), out, indent + 2);
      out += ++n < o.size() ? ",\n" : "\n";
    }
    out += std::string(indent, ' ') + "}";
  } else if (v.is_array()) {
    const auto& a = v.as_array();
    if (a.empty()) {
      out += "[]";
      return;
    }
    out += "[\n";
    for (size_t i = 0; i < a.size(); ++i) {
      out += pad;
      PrintJson(a[i], out, indent + 2);
      out += i + 1 < a.size() ? ",\n" : "\n";
    }
    out += std::string(indent, ' ') + "]";
  } else {
    out += json::serialize(v);
  }
}

Result<image::Platform> ParsePlatform(const std::string& s) {
  image::Platform p;
  auto a = s.find('/');
  if (a == std::string::npos) return Invalid("--platform wants OS/ARCH[/VARIANT]");
  p.os = s.substr(0, a);
  auto b = s.find('/', a + 1);
  p.architecture = s.substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1);
  if (b != std::string::npos) p.variant = s.substr(b + 1);
  return p;
}

// A one-line-per-blob progress display, redrawn in place on a terminal.
class Progress {
 public:
  explicit Progress(bool enabled) : enabled_(enabled) {}
  void Update(const std::string& digest, int64_t done, int64_t total) {
    if (!enabled_) return;
    if (digest != current_) {
      if (!current_.empty()) std::fputc('\n', stderr);
      current_ = digest;
    }
    int pct = total > 0 ? static_cast<int>(done * 100 / total) : 0;
    std::fprintf(stderr, "\r%s: %s / %s (%d%%)   ", ShortId(digest).c_str(),
                 HumanSize(done).c_str(), HumanSize(total).c_str(), pct);
  }
  void Done() {
    if (enabled_ && !current_.empty()) std::fputc('\n', stderr);
  }

 private:
  bool enabled_;
  std::string current_;
};

int Inspect(ImageStore& store, const std::string& ref) {
  auto info = store.Inspect(ref);
  if (!info.ok()) return Fail(info.status());
  const auto& c = info->config;
  json::object cfg;
  cfg["User"] = c.user;
  cfg["Env"] = Strings(c.env);
  cfg["Entrypoint"] = Strings(c.entrypoint);
  cfg["Cmd"] = Strings(c.cmd);
  cfg["WorkingDir"] = c.working_dir;
  cfg["ExposedPorts"] = Keys(c.exposed_ports);
  cfg["Volumes"] = Keys(c.volumes);
  json::object labels;
  for (const auto& [k, v] : c.labels) labels[k] = v;
  cfg["Labels"] = std::move(labels);
  if (!c.stop_signal.empty()) cfg["StopSignal"] = c.stop_signal;
  json::object o;
  o["Id"] = info->record.config_digest;
  o["RepoTags"] = Strings(info->names);
  json::array digests;
  for (const auto& n : info->names) {
    auto r = image::ParseReference(n);
    if (r.ok()) digests.emplace_back(r->Name() + "@" + info->record.manifest_digest);
  }
  o["RepoDigests"] = std::move(digests);
  o["Manifest"] = info->record.manifest_digest;
  if (!info->record.index_digest.empty()) o["Index"] = info->record.index_digest;
  o["Created"] = c.created;
  o["Os"] = c.os;
  o["Architecture"] = c.architecture;
  if (!c.variant.empty()) o["Variant"] = c.variant;
  o["Size"] = info->record.size;
  o["Config"] = std::move(cfg);
  json::object rootfs;
  rootfs["Type"] = "layers";
  rootfs["Layers"] = Strings(c.diff_ids);
  o["RootFS"] = std::move(rootfs);
  o["ChainIDs"] = Strings(info->chain_ids);
  std::string out;
  PrintJson(o, out);
  std::printf("%s\n", out.c_str());
  return 0;
}

}  // namespace

int ImageMain(int argc, char** argv) {
  Flags f;
  std::string err;
  if (!ParseFlags(argc, argv, &f, &err)) {
    std::fprintf(stderr, "sampan image: %s\n\n%s", err.c_str(), kUsage);
    return 2;
  }
  if (f.values.count("help") || f.args.empty()) {
    std::fputs(kUsage, f.args.empty() && !f.values.count("help") ? stderr : stdout);
    return f.values.count("help") ? 0 : 2;
  }
  std::string cmd = f.args.front();
  std::vector<std::string> args(f.args.begin() + 1, f.args.end());
  std::string data_dir = f.values.count("data-dir") ? f.values["data-dir"] : "/var/lib/sampan";
  image::Platform platform = image::HostPlatform();
  if (f.values.count("platform")) {
    auto p = ParsePlatform(f.values["platform"]);
    if (!p.ok()) return Fail(p.status());
    platform = *p;
  }
  auto opened = ImageStore::Open(data_dir);
  if (!opened.ok()) return Fail(opened.status());
  ImageStore& store = **opened;

  if (cmd == "import") {
    if (args.empty()) return Fail(Invalid("import needs an archive file"));
    image::ImportOptions opts;
    opts.base_name = f.values["name"];
    opts.platform = platform;
    for (const auto& file : args) {
      auto names = store.Import(file, opts);
      if (!names.ok()) return Fail(names.status().WithContext(file));
      for (const auto& n : *names) std::printf("imported %s\n", n.c_str());
    }
    return 0;
  }
  if (cmd == "pull") {
    if (args.size() != 1) return Fail(Invalid("pull needs exactly one image reference"));
    std::string path =
        f.values.count("registries") ? f.values["registries"] : "/etc/sampan/registries.yaml";
    auto config = image::RegistryConfig::Load(path);
    if (!config.ok()) return Fail(config.status());
    Progress progress(!f.quiet && ::isatty(2));
    image::PullOptions opts;
    opts.platform = platform;
    opts.progress = [&](const std::string& d, int64_t done, int64_t total) {
      progress.Update(d, done, total);
    };
    auto rec = store.Pull(args[0], *config, opts);
    progress.Done();
    if (!rec.ok()) return Fail(rec.status());
    std::printf("%s: pulled %s (%s)\n", rec->name.c_str(), rec->manifest_digest.c_str(),
                HumanSize(rec->size).c_str());
    return 0;
  }
  if (cmd == "ls" || cmd == "list" || cmd == "images") {
    auto all = store.List();
    if (!all.ok()) return Fail(all.status());
    if (f.quiet) {
      for (const auto& r : *all) std::printf("%s\n", r.name.c_str());
      return 0;
    }
    std::printf("%-50s %-20s %-13s %s\n", "IMAGE", "TAG", "IMAGE ID", "SIZE");
    for (const auto& r : *all) {
      auto ref = image::ParseReference(r.name);
      std::string repo = ref.ok() ? ref->Name() : r.name;
      std::string tag = ref.ok() ? (ref->digest.empty() ? ref->tag : "<none>") : "";
      std::printf("%-50s %-20s %-13s %s\n", repo.c_str(), tag.c_str(),
                  ShortId(r.config_digest).c_str(), HumanSize(r.size).c_str());
    }
    return 0;
  }
  if (cmd == "inspect") {
    if (args.size() != 1) return Fail(Invalid("inspect needs one image reference or ID"));
    return Inspect(store, args[0]);
  }
  if (cmd == "rm" || cmd == "rmi" || cmd == "remove") {
    if (args.empty()) return Fail(Invalid("rm needs an image reference or ID"));
    int rc = 0;
    for (const auto& a : args) {
      auto removed = store.Remove(a);
      if (!removed.ok()) {
        rc = Fail(removed.status());
        continue;
      }
      for (const auto& n : *removed) std::printf("Deleted: %s\n", n.c_str());
    }
    return rc;
  }
  if (cmd == "prune" || cmd == "gc") {
    int grace = f.values.count("grace") ? std::atoi(f.values["grace"].c_str()) : 600;
    auto stats = store.GarbageCollect(grace);
    if (!stats.ok()) return Fail(stats.status());
    std::printf("removed %lld blobs (%s) and %lld snapshots\n",
                static_cast<long long>(stats->blobs_removed),
                HumanSize(stats->bytes_removed).c_str(),
                static_cast<long long>(stats->snapshots_removed));
    return 0;
  }
  if (cmd == "rootfs") {
    if (args.size() != 2) return Fail(Invalid("rootfs needs an image and a container ID"));
    auto m = store.PrepareRootfs(args[0], args[1]);
    if (!m.ok()) return Fail(m.status());
    if (f.values.count("mount")) {
      Status st = ImageStore::MountRootfs(*m, f.values["mount"]);
      if (!st.ok()) {
        (void)store.RemoveRootfs(args[1]);
        return Fail(st);
      }
    }
    std::printf("%s\n", m->Data().c_str());
    return 0;
  }
  if (cmd == "rootfs-rm") {
    if (args.size() != 1) return Fail(Invalid("rootfs-rm needs a container ID"));
    Status st = store.RemoveRootfs(args[0]);
    return st.ok() ? 0 : Fail(st);
  }
  std::fprintf(stderr, "sampan image: unknown command \"%s\"\n\n%s", cmd.c_str(), kUsage);
  return 2;
}

}  // namespace sampan::cmd
