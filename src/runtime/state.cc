#include "runtime/state.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>

#include "runtime/json_reader.h"
#include "runtime/sys.h"

namespace sampan::runtime {
namespace json = boost::json;

bool ValidContainerId(const std::string& id) {
  if (id.empty() || id.size() > 1024 || id == "." || id == "..") return false;
  for (char c : id)
    if (!isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '+' && c != '-')
      return false;
  return isalnum(static_cast<unsigned char>(id[0]));
}

Status StateDir::Make(const std::string& id) const {
  if (!ValidContainerId(id)) return Invalid("invalid container id \"" + id + "\"");
  std::string dir = Dir(id);
  // The root usually exists: create it (each component) only when mkdir finds it missing.
  int rc = ::mkdir(dir.c_str(), 0711);
  if (rc != 0 && errno == ENOENT) {
    RETURN_IF_ERROR(MkdirAll(root_, 0711));
    rc = ::mkdir(dir.c_str(), 0711);
  }
  if (rc != 0) {
    if (errno == EEXIST) return AlreadyExists("container \"" + id + "\" already exists");
    return ErrnoStatus("mkdir " + dir, errno);
  }
  return Status();
}

namespace {
std::string StateJson(const StoredState& s) {
  json::object o;
  o["id"] = s.id;
  o["bundle"] = s.bundle;
  o["rootfs"] = s.rootfs;
  o["created"] = s.created;
  o["pid"] = s.pid;
  o["pidStart"] = s.pid_start;
  o["monitorPid"] = s.monitor_pid;
  json::object ann;
  for (const auto& [k, v] : s.annotations) ann[k] = v;
  o["annotations"] = std::move(ann);
  o["cgroupMode"] = static_cast<int>(s.cgroup_mode);
  o["cgroupPath"] = s.cgroup_path;
  o["cgroupDepth"] = s.cgroup_depth;
  json::array ns;
  for (const auto& n : s.namespaces) ns.emplace_back(n);
  o["namespaces"] = std::move(ns);
  o["logPath"] = s.log_path;
  if (!s.config.empty()) o["config"] = s.config;
  return json::serialize(o);
}
}  // namespace

Status StateDir::Save(const StoredState& s) const {
  return WriteFileAtomic(Dir(s.id) + "/state.json", StateJson(s), 0600);
}

Result<UniqueFd> StateDir::MakeFile(const std::string& id) const {
  if (!ValidContainerId(id)) return Invalid("invalid container id \"" + id + "\"");
  std::string path = Dir(id);
  constexpr int kFlags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW;
  int fd = ::open(path.c_str(), kFlags, 0600);
  if (fd < 0 && errno == ENOENT) {
    RETURN_IF_ERROR(MkdirAll(root_, 0711));
    fd = ::open(path.c_str(), kFlags, 0600);
  }
  if (fd < 0) {
    if (errno == EEXIST) return AlreadyExists("container \"" + id + "\" already exists");
    return ErrnoStatus("create " + path, errno);
  }
  return UniqueFd(fd);
}

Status StateDir::SaveFile(int fd, const StoredState& s) const {
  std::string text = StateJson(s);
  if (!WriteAll(fd, text.data(), text.size())) return ErrnoStatus("write " + Dir(s.id), errno);
  return Status();
}

Result<StoredState> StateDir::Load(const std::string& id) const {
  if (!ValidContainerId(id)) return Invalid("invalid container id \"" + id + "\"");
  auto text = ReadWholeFile(Dir(id) + "/state.json");
  bool one_file = false;
  if (!text.ok()) {
    struct stat st;
    if (::stat(Dir(id).c_str(), &st) != 0)
      return NotFound("container \"" + id + "\" does not exist");
    if (S_ISDIR(st.st_mode)) return Unavailable("container \"" + id + "\" is being created");
    text = ReadWholeFile(Dir(id));  // the one-file form
    if (!text.ok()) return NotFound("container \"" + id + "\" does not exist");
    if (text->empty()) return Unavailable("container \"" + id + "\" is being created");
    one_file = true;
  }
  boost::system::error_code ec;
  json::value v = json::parse(*text, ec);
  if (ec || !v.is_object()) {
    // The one-file form is written in place: a reader may catch it half written (or find what
    // a crash left); `delete --force` removes it.
    if (one_file) return Unavailable("the state of container \"" + id + "\" is incomplete");
    return Internal("corrupt state of container \"" + id + "\"");
  }
  JsonReader r;
  const json::object& o = v.as_object();
  StoredState s;
  s.id = r.String(o, "id", "", "");
  s.bundle = r.String(o, "bundle", "", "");
  s.rootfs = r.String(o, "rootfs", "", "");
  s.created = r.String(o, "created", "", "");
  s.pid = static_cast<pid_t>(r.I64(o, "pid", "", 0));
  s.pid_start = r.U64(o, "pidStart", "", 0);
  s.monitor_pid = static_cast<pid_t>(r.I64(o, "monitorPid", "", 0));
  if (const json::value* a = o.if_contains("annotations"))
    s.annotations = r.StringMap(*a, "annotations");
  s.cgroup_mode = static_cast<CgroupMode>(r.I64(o, "cgroupMode", "", 0));
  s.cgroup_path = r.String(o, "cgroupPath", "", "");
  s.cgroup_depth = static_cast<int>(r.I64(o, "cgroupDepth", "", 0));
  s.namespaces = r.StringArray(o, "namespaces", "");
  s.log_path = r.String(o, "logPath", "", "");
  s.config = r.String(o, "config", "", "");
  if (!r.ok()) return Internal("corrupt state of container \"" + id + "\": " + r.error());
  return s;
}

Status StateDir::SaveExit(const std::string& id, const ExitInfo& e) const {
  json::object o;
  o["exitCode"] = e.exit_code;
  o["signal"] = e.signal;
  o["finishedAt"] = e.finished_at;
  o["oomKilled"] = e.oom_killed;
  return WriteFileAtomic(Dir(id) + "/exit.json", json::serialize(o), 0600);
}

ExitInfo StateDir::LoadExit(const std::string& id) const {
  ExitInfo e;
  auto text = ReadWholeFile(Dir(id) + "/exit.json");
  if (!text.ok()) return e;
  boost::system::error_code ec;
  json::value v = json::parse(*text, ec);
  if (ec || !v.is_object()) return e;
  JsonReader r;
  const json::object& o = v.as_object();
  e.present = true;
  e.exit_code = static_cast<int>(r.I64(o, "exitCode", "", 0));
  e.signal = static_cast<int>(r.I64(o, "signal", "", 0));
  e.finished_at = r.String(o, "finishedAt", "", "");
  e.oom_killed = r.Bool(o, "oomKilled", "", false);
  return e;
}

Status StateDir::SaveConfig(const std::string& id, const std::string& text) const {
  return WriteFileAtomic(Dir(id) + "/config.json", text, 0600);
}

Result<std::string> StateDir::LoadConfig(const std::string& id) const {
  ASSIGN_OR_RETURN(StoredState s, Load(id));
  if (!s.config.empty()) return s.config;
  return ReadWholeFile(Dir(id) + "/config.json");
}

Status StateDir::Remove(const std::string& id) const {
  if (!ValidContainerId(id)) return Invalid("invalid container id \"" + id + "\"");
  std::string dir = Dir(id);
  if (::unlink(dir.c_str()) == 0 || errno == ENOENT) return Status();  // the one-file form
  if (errno != EISDIR) return ErrnoStatus("remove " + dir, errno);
  // Most directories hold state.json alone: no listing needed then.
  ::unlink((dir + "/state.json").c_str());
  if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return Status();
  DIR* d = ::opendir(dir.c_str());
  if (!d) return errno == ENOENT ? Status() : ErrnoStatus("open " + dir, errno);
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(d);
  for (const auto& n : names) ::unlink((dir + "/" + n).c_str());
  if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("rmdir " + dir, errno);
  return Status();
}

std::vector<std::string> StateDir::Ids() const {
  std::vector<std::string> out;
  DIR* d = ::opendir(root_.c_str());
  if (!d) return out;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (!ValidContainerId(n)) continue;
    unsigned char type = e->d_type;
    if (type == DT_UNKNOWN) {
      struct stat st;
      if (::lstat((root_ + "/" + n).c_str(), &st) != 0) continue;
      type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
    }
    if (type == DT_DIR || type == DT_REG) out.push_back(n);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

std::string ComputeStatus(const StateDir& dir, const StoredState& s, const ExitInfo& e) {
  if (e.present) return "stopped";
  if (!ProcessAlive(s.pid) || ProcessStartTime(s.pid) != s.pid_start) return "stopped";
  if (PathExists(dir.FifoPath(s.id))) return "created";
  Cgroup cg = Cgroup::Open(s.cgroup_mode, s.cgroup_path, s.cgroup_depth);
  if (cg.Frozen()) return "paused";
  return "running";
}

}  // namespace sampan::runtime
