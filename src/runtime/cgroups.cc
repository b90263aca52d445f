// Cgroup: directories, process membership, freezer, kill, stats, removal.
#include "runtime/cgroups.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <set>
#include <sstream>

#include "runtime/sys.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

namespace sampan::runtime {

namespace {

const char kCgroupRoot[] = "/sys/fs/cgroup";

// controller -> mount point of its v1 hierarchy, from the whole mount table.
std::map<std::string, std::string> V1MountsFromMountinfo() {
  std::map<std::string, std::string> m;
  auto text = ReadWholeFile("/proc/self/mountinfo");
  if (!text.ok()) return m;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    // ... mountpoint(5th) ... " - " fstype source superopts
    size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream tail(line.substr(dash + 3));
    std::string fstype, source, opts;
    tail >> fstype >> source >> opts;
    if (fstype != "cgroup") continue;
    std::istringstream head(line.substr(0, dash));
    std::string f1, f2, f3, root, mnt;
    head >> f1 >> f2 >> f3 >> root >> mnt;
    std::istringstream os(opts);
    std::string opt;
    while (std::getline(os, opt, ',')) {
      if (opt == "rw" || opt == "ro" || opt.rfind("name=", 0) == 0 ||
          opt.find('=') != std::string::npos)
        continue;
      if (opt == "relatime" || opt == "noexec" || opt == "nosuid" || opt == "nodev" ||
          opt == "clone_children" || opt == "noprefix" || opt == "xattr" ||
          opt == "cpuset_v2_mode")
        continue;
      m.emplace(opt, mnt);
    }
  }
  return m;
}

bool IsV1CgroupMount(const std::string& path) {
  struct statfs fs;
  return ::statfs(path.c_str(), &fs) == 0 && fs.f_type == CGROUP_SUPER_MAGIC;
}

// The same from /proc/self/cgroup (one short line per hierarchy): each hierarchy is looked for
// at its usual place, /sys/fs/cgroup/<its controllers>. The mount table grows with every
// container on the node and was read once per container create; it is read only when a
// hierarchy is not where expected.
std::map<std::string, std::string> V1MountsFast() {
  auto text = ReadWholeFile("/proc/self/cgroup");
  if (!text.ok()) return V1MountsFromMountinfo();
  std::map<std::string, std::string> m;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    size_t a = line.find(':');
    size_t b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    std::string ctrls = line.substr(a + 1, b - a - 1);
    if (ctrls.empty() || ctrls.rfind("name=", 0) == 0) continue;  // v2, or named only
    if (ctrls.find('=') != std::string::npos) return V1MountsFromMountinfo();
    std::string mnt = std::string(kCgroupRoot) + "/" + ctrls;
    if (!IsV1CgroupMount(mnt)) return V1MountsFromMountinfo();
    std::istringstream cs(ctrls);
    std::string c;
    while (std::getline(cs, c, ',')) m.emplace(c, mnt);
  }
  return m;
}

const std::map<std::string, std::string>& V1Mounts() {
  static const std::map<std::string, std::string> mounts = V1MountsFast();
  return mounts;
}

int PathDepth(const std::string& rel) {
  int n = 0;
  for (char c : rel) n += c == '/';
  return n;
}

// Copies cpuset.cpus/mems from the parent when empty (v1 refuses tasks otherwise). A directory
// made just now is empty (or, with the parent's clone_children, holds the parent's values
// already): it is not read first.
Status InitCpuset(const std::string& dir, bool fresh) {
  for (const char* f : {"cpuset.cpus", "cpuset.mems"}) {
    std::string path = dir + "/" + f;
    if (!fresh) {
      auto cur = ReadWholeFile(path);
      if (!cur.ok()) return cur.status();
      if (!cur->empty() && *cur != "\n") continue;
    }
    size_t slash = dir.rfind('/');
    auto parent = ReadWholeFile(dir.substr(0, slash) + "/" + f);
    if (!parent.ok()) return parent.status();
    RETURN_IF_ERROR(WriteKnob(path, *parent));
  }
  return Status();
}

// Whether `dir` has a subdirectory (a child cgroup).
bool HasSubdirs(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return false;
  bool found = false;
  while (dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (e->d_type == DT_DIR && name != "." && name != "..") {
      found = true;
      break;
    }
  }
  ::closedir(d);
  return found;
}

// Creates rel_path under `base`; returns how many components were new.
Result<int> MakeDirs(const std::string& base, const std::string& rel, bool cpuset) {
  int created = 0;
  int depth = PathDepth(rel);
  size_t i = 1;
  int level = 0;
  while (i <= rel.size()) {
    size_t j = rel.find('/', i);
    if (j == std::string::npos) j = rel.size();
    std::string dir = base + rel.substr(0, j);
    ++level;
    bool fresh = ::mkdir(dir.c_str(), 0755) == 0;
    if (fresh) {
      if (created == 0) created = depth - level + 1;
    } else if (errno != EEXIST) {
      return ErrnoStatus("mkdir " + dir, errno);
    }
    if (cpuset) RETURN_IF_ERROR(InitCpuset(dir, fresh));
    i = j + 1;
  }
  return created;
}

uint64_t ReadU64(const std::string& path) {
  auto t = ReadWholeFile(path);
  if (!t.ok()) return 0;
  if (t->rfind("max", 0) == 0) return UINT64_MAX;
  return std::strtoull(t->c_str(), nullptr, 10);
}

uint64_t KeyedValue(const std::string& path, std::string_view key) {
  auto t = ReadWholeFile(path);
  if (!t.ok()) return 0;
  std::istringstream in(*t);
  std::string k;
  uint64_t v;
  while (in >> k >> v)
    if (k == key) return v;
  return 0;
}

}  // namespace

namespace {
std::vector<std::string> FindV1HierarchyMountPoints() {
  std::vector<std::string> out;
  DIR* d = IsV1CgroupMount(kCgroupRoot) ? nullptr : ::opendir(kCgroupRoot);
  if (d != nullptr) {
    // The controllers' hierarchies are known (and checked) already; only the others (named
    // ones such as name=systemd) are looked at here.
    std::set<std::string> known;
    for (const auto& [ctrl, mnt] : V1Mounts()) known.insert(mnt);
    while (struct dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      std::string path = std::string(kCgroupRoot) + "/" + name;
      // Symlinks (cpu -> cpu,cpuacct) are not mounts.
      if (e->d_type == DT_LNK) continue;
      if (e->d_type == DT_UNKNOWN) {
        struct stat st;
        if (::lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
      } else if (e->d_type != DT_DIR) {
        continue;
      }
      if (known.count(path) || IsV1CgroupMount(path)) out.push_back(path);
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
  }
  auto text = ReadWholeFile("/proc/self/mountinfo");
  if (!text.ok()) return out;
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    size_t dash = line.find(" - cgroup ");
    if (dash == std::string::npos) continue;
    std::istringstream head(line.substr(0, dash));
    std::string f1, f2, f3, root, mnt;
    head >> f1 >> f2 >> f3 >> root >> mnt;
    if (mnt.rfind("/sys/fs/cgroup/", 0) != 0) continue;
    std::string name = mnt.substr(15);
    if (name.empty() || name.find('/') != std::string::npos) continue;
    if (std::find(out.begin(), out.end(), mnt) == out.end()) out.push_back(mnt);
  }
  return out;
}
}  // namespace

const std::vector<std::string>& V1HierarchyMountPoints() {
  static const std::vector<std::string> points = FindV1HierarchyMountPoints();
  return points;
}

CgroupMode DetectCgroupMode(const std::string& root) {
  struct statfs fs;
  if (::statfs(root.c_str(), &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC) return CgroupMode::kV2;
  std::string unified = root + "/unified";
  if (::statfs(unified.c_str(), &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC)
    return CgroupMode::kHybrid;
  return CgroupMode::kV1;
}

Cgroup Cgroup::Open(CgroupMode mode, std::string rel_path, int created_depth) {
  Cgroup c;
  c.mode_ = mode;
  c.rel_path_ = std::move(rel_path);
  c.created_depth_ = created_depth;
  return c;
}

std::vector<std::string> Cgroup::Hierarchies() const {
  if (mode_ == CgroupMode::kV2) return {""};
  std::vector<std::string> out;
  std::map<std::string, bool> seen;
  for (const auto& [ctrl, mnt] : V1Mounts())
    if (!seen[mnt]) {
      seen[mnt] = true;
      out.push_back(ctrl);
    }
  return out;
}

std::string Cgroup::Dir(std::string_view controller) const {
  if (mode_ == CgroupMode::kV2) return std::string(kCgroupRoot) + rel_path_;
  const auto& m = V1Mounts();
  auto it = m.find(std::string(controller));
  if (it == m.end()) return "";
  return it->second + rel_path_;
}

Result<Cgroup> Cgroup::Create(CgroupMode mode, const std::string& rel_path, const Linux& l) {
  Cgroup c = Open(mode, rel_path, 0);
  std::vector<CgroupWrite> writes;
  if (mode == CgroupMode::kV2) {
    ASSIGN_OR_RETURN(writes, V2Writes(l.resources));
  } else {
    ASSIGN_OR_RETURN(writes, V1Writes(l.resources));
    auto dev = V1DeviceWrites(l.resources, l.devices);
    // Device rules go first: a deny-all must precede the allows.
    writes.insert(writes.begin(), dev.begin(), dev.end());
  }
  int depth = 0;
  if (mode == CgroupMode::kV2) {
    // Create the path (counting the levels made here, so Destroy removes new parents too),
    // then enable the controllers in every ancestor (best effort: some may be unavailable;
    // enabling them in a parent that has children already gives those children the
    // controller as well).
    auto made = MakeDirs(kCgroupRoot, rel_path, false);
    if (!made.ok()) return made.status();
    depth = *made;
    // Each write to cgroup.subtree_control takes the global cgroup lock and walks every
    // descendant (for the root: every cgroup on the host), even when nothing changes: read
    // what is available and enabled, and write only what is missing.
    auto enable = [](const std::string& dir) {
      auto avail = ReadWholeFile(dir + "/cgroup.controllers");
      auto on = ReadWholeFile(dir + "/cgroup.subtree_control");
      auto listed = [](const std::string& text, std::string_view name) {
        std::istringstream in(text);
        std::string w;
        while (in >> w)
          if (w == name) return true;
        return false;
      };
      for (std::string_view ctl : {"cpu", "cpuset", "memory", "pids", "io"}) {
        if (avail.ok() && !listed(*avail, ctl)) continue;
        if (on.ok() && listed(*on, ctl)) continue;
        (void)WriteKnob(dir + "/cgroup.subtree_control", "+" + std::string(ctl));
      }
    };
    enable(kCgroupRoot);
    size_t j = 0;
    while ((j = rel_path.find('/', j + 1)) != std::string::npos)
      enable(std::string(kCgroupRoot) + rel_path.substr(0, j));
  } else {
    for (const auto& [ctrl, mnt] : V1Mounts()) {
      // One mkdir per hierarchy (cpu,cpuacct may share one mount).
      auto made = MakeDirs(mnt, rel_path, ctrl == "cpuset");
      if (!made.ok()) {
        c.created_depth_ = std::max(depth, c.created_depth_);
        (void)c.Destroy();
        return made.status();
      }
      depth = std::max(depth, *made);
      c.created_depth_ = depth;
    }
  }
  c.created_depth_ = depth;
  // Consecutive writes to one file (the device rules) share one descriptor; each write is
  // still one rule to the kernel.
  UniqueFd knob;
  std::string knob_path;
  for (const CgroupWrite& w : writes) {
    std::string dir = c.Dir(w.controller);
    Status st;
    if (dir.empty()) {
      st = Invalid("cgroup controller \"" + w.controller + "\" is not mounted (needed for " +
                   w.file + ")");
    } else {
      std::string path = dir + "/" + w.file;
      if (path != knob_path) {
        knob.Reset(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
        knob_path = knob.valid() ? path : "";
        if (!knob.valid()) {
          int err = errno;
          if (err == ENOENT && w.file == "memory.memsw.limit_in_bytes" && w.value == "-1")
            continue;  // no swap accounting: nothing to lift
          st = err == ENOENT ? Invalid("cgroup file " + w.file + " is not supported by this kernel")
                             : ErrnoStatus("open " + path, err);
        }
      }
      if (st.ok()) st = WriteKnobFd(knob.get(), path, w.value);
    }
    if (!st.ok()) {
      (void)c.Destroy();
      return st;
    }
  }
  return c;
}

Status Cgroup::AddProcess(pid_t pid) const {
  std::string p = std::to_string(pid);
  for (const std::string& h : Hierarchies()) {
    std::string dir = Dir(h);
    Status st = WriteKnob(dir + "/cgroup.procs", p);
    if (!st.ok()) return st;
  }
  return Status();
}

Status Cgroup::JoinSelf() const {
  if (mode_ == CgroupMode::kV2) return AddProcess(0);
  for (const std::string& h : Hierarchies()) RETURN_IF_ERROR(WriteKnob(Dir(h) + "/tasks", "0"));
  return Status();
}

Status Cgroup::Freeze() const {
  if (mode_ == CgroupMode::kV2) {
    RETURN_IF_ERROR(WriteKnob(Dir("") + "/cgroup.freeze", "1"));
  } else {
    std::string d = Dir("freezer");
    if (d.empty()) return Invalid("the freezer cgroup is not mounted");
    RETURN_IF_ERROR(WriteKnob(d + "/freezer.state", "FROZEN"));
  }
  for (int i = 0; i < 2000; ++i) {
    if (Frozen()) return Status();
    if (mode_ != CgroupMode::kV2 && i % 50 == 49)
      (void)WriteKnob(Dir("freezer") + "/freezer.state", "FROZEN");
    ::usleep(1000);
  }
  return Status(Code::kTimeout, "cgroup did not freeze");
}

Status Cgroup::Thaw() const {
  if (mode_ == CgroupMode::kV2) return WriteKnob(Dir("") + "/cgroup.freeze", "0");
  std::string d = Dir("freezer");
  if (d.empty()) return Invalid("the freezer cgroup is not mounted");
  return WriteKnob(d + "/freezer.state", "THAWED");
}

bool Cgroup::Frozen() const {
  if (mode_ == CgroupMode::kV2) return KeyedValue(Dir("") + "/cgroup.events", "frozen") == 1;
  std::string d = Dir("freezer");
  if (d.empty()) return false;
  auto t = ReadWholeFile(d + "/freezer.state");
  return t.ok() && t->rfind("FROZEN", 0) == 0;
}

Result<std::vector<pid_t>> Cgroup::Pids() const {
  std::string dir = mode_ == CgroupMode::kV2 ? Dir("") : Dir("pids");
  if (dir.empty()) dir = Dir("memory");
  if (dir.empty()) dir = Dir(Hierarchies().front());
  ASSIGN_OR_RETURN(std::string text, ReadWholeFile(dir + "/cgroup.procs"));
  std::vector<pid_t> out;
  std::istringstream in(text);
  pid_t p;
  while (in >> p) out.push_back(p);
  return out;
}

Status Cgroup::SignalAll(int sig) const {
  bool frozen = sig == SIGKILL && Freeze().ok();
  auto pids = Pids();
  if (pids.ok())
    for (pid_t p : *pids) ::kill(p, sig);
  if (frozen) (void)Thaw();
  return pids.ok() ? Status() : pids.status();
}

bool Cgroup::WaitEmpty(int timeout_ms) const {
  for (int i = 0; i <= timeout_ms; ++i) {
    auto pids = Pids();
    if (!pids.ok() || pids->empty()) return true;
    ::usleep(1000);
  }
  return false;
}

Status Cgroup::Destroy() const {
  Status first;
  for (const std::string& h : Hierarchies()) {
    std::string base = mode_ == CgroupMode::kV2 ? std::string(kCgroupRoot) : V1Mounts().at(h);
    std::string rel = rel_path_;
    for (int level = 0; level < created_depth_ && rel.size() > 1; ++level) {
      std::string dir = base + rel;
      int rc = -1;
      for (int attempt = 0; attempt < 200; ++attempt) {
        rc = ::rmdir(dir.c_str());
        // A parent stays EBUSY for a moment after its last child's rmdir (the child goes
        // offline asynchronously; seen on cgroup v2): retry while it has no child left.
        if (rc == 0 || errno != EBUSY || (level > 0 && (attempt >= 50 || HasSubdirs(dir)))) break;
        ::usleep(1000);
      }
      if (rc != 0 && errno != ENOENT) {
        // Ancestors in use by others stay; a busy leaf is an error.
        if (level == 0 && first.ok()) first = ErrnoStatus("rmdir " + dir, errno);
        break;
      }
      rel = rel.substr(0, rel.rfind('/'));
    }
  }
  return first;
}

uint64_t Cgroup::OomKills() const {
  if (mode_ == CgroupMode::kV2) return KeyedValue(Dir("") + "/memory.events", "oom_kill");
  std::string d = Dir("memory");
  if (d.empty()) return 0;
  return KeyedValue(d + "/memory.oom_control", "oom_kill");
}

CgroupStats Cgroup::Stats() const {
  CgroupStats s;
  if (mode_ == CgroupMode::kV2) {
    std::string d = Dir("");
    s.cpu_usage_ns = KeyedValue(d + "/cpu.stat", "usage_usec") * 1000;
    s.cpu_user_ns = KeyedValue(d + "/cpu.stat", "user_usec") * 1000;
    s.cpu_system_ns = KeyedValue(d + "/cpu.stat", "system_usec") * 1000;
    s.cpu_periods = KeyedValue(d + "/cpu.stat", "nr_periods");
    s.cpu_throttled_periods = KeyedValue(d + "/cpu.stat", "nr_throttled");
    s.cpu_throttled_ns = KeyedValue(d + "/cpu.stat", "throttled_usec") * 1000;
    s.memory_usage = ReadU64(d + "/memory.current");
    s.memory_max_usage = ReadU64(d + "/memory.peak");
    s.memory_limit = ReadU64(d + "/memory.max");
    s.memory_cache = KeyedValue(d + "/memory.stat", "file");
    s.memory_rss = KeyedValue(d + "/memory.stat", "anon");
    s.swap_usage = ReadU64(d + "/memory.swap.current");
    s.swap_limit = ReadU64(d + "/memory.swap.max");
    s.pids_current = ReadU64(d + "/pids.current");
    s.pids_limit = ReadU64(d + "/pids.max");
  } else {
    std::string acct = Dir("cpuacct"), cpu = Dir("cpu"), mem = Dir("memory"), pids = Dir("pids");
    if (!acct.empty()) {
      s.cpu_usage_ns = ReadU64(acct + "/cpuacct.usage");
      // cpuacct.stat is in USER_HZ ticks.
      long hz = sysconf(_SC_CLK_TCK);
      s.cpu_user_ns = KeyedValue(acct + "/cpuacct.stat", "user") * (1000000000 / hz);
      s.cpu_system_ns = KeyedValue(acct + "/cpuacct.stat", "system") * (1000000000 / hz);
    }
    if (!cpu.empty()) {
      s.cpu_periods = KeyedValue(cpu + "/cpu.stat", "nr_periods");
      s.cpu_throttled_periods = KeyedValue(cpu + "/cpu.stat", "nr_throttled");
      s.cpu_throttled_ns = KeyedValue(cpu + "/cpu.stat", "throttled_time");
    }
    if (!mem.empty()) {
      s.memory_usage = ReadU64(mem + "/memory.usage_in_bytes");
      s.memory_max_usage = ReadU64(mem + "/memory.max_usage_in_bytes");
      s.memory_limit = ReadU64(mem + "/memory.limit_in_bytes");
      s.memory_failcnt = ReadU64(mem + "/memory.failcnt");
      s.memory_cache = KeyedValue(mem + "/memory.stat", "cache");
      s.memory_rss = KeyedValue(mem + "/memory.stat", "rss");
      s.swap_usage = ReadU64(mem + "/memory.memsw.usage_in_bytes");
      s.swap_limit = ReadU64(mem + "/memory.memsw.limit_in_bytes");
    }
    if (!pids.empty()) {
      s.pids_current = ReadU64(pids + "/pids.current");
      s.pids_limit = ReadU64(pids + "/pids.max");
    }
  }
  s.oom_kills = OomKills();
  return s;
}

}  // namespace sampan::runtime
