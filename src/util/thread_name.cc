#include "util/thread_name.h"

#include <sys/prctl.h>

#include <algorithm>
#include <cstring>

namespace sampan::util {

void NameThisThread(std::string_view name) {
  char buf[16] = {};
  std::memcpy(buf, name.data(), std::min(name.size(), sizeof buf - 1));
  prctl(PR_SET_NAME, buf, 0, 0, 0);
}

}  // namespace sampan::util
