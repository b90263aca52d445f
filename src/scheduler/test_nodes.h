// Node objects for the scheduler's unit tests.
#pragma once

#include <boost/json.hpp>

#include <memory>
#include <string>

#include "scheduler/framework.h"

namespace sampan::scheduler::testing {

// A node named `name` (also its kubernetes.io/hostname label) with 8 CPUs, 16Gi and 110 pods
// allocatable, extra `labels` and `taints`.
inline ObjectPtr Node(const std::string& name, boost::json::object labels = {},
                      boost::json::array taints = {}) {
  namespace json = boost::json;
  labels["kubernetes.io/hostname"] = name;
  json::object alloc{{"cpu", "8"}, {"memory", "16Gi"}, {"pods", "110"}};
  json::object spec;
  if (!taints.empty()) spec["taints"] = taints;
  return std::make_shared<const json::object>(
      json::object{{"metadata", json::object{{"name", name}, {"labels", labels}}},
                   {"spec", spec},
                   {"status", json::object{{"allocatable", alloc}}}});
}

}  // namespace sampan::scheduler::testing
