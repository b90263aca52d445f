#pragma once

#include <string_view>

namespace sampan::util {

// Names the calling thread (the kernel keeps 15 bytes; longer names are cut), so that `top -H`,
// `ps -L`, perf and /proc/PID/task/*/comm tell the server's threads apart.
void NameThisThread(std::string_view name);

}  // namespace sampan::util
