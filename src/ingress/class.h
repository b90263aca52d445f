// The names of sampan's built-in ingress controller (agent/ingress.h), shared by the API
// server (which creates its IngressClass) and the controller (which picks its Ingresses).
#pragma once

namespace sampan::ingress {

// The IngressClass controller name, and the class the server creates (the default class
// unless the cluster already has another default).
inline constexpr const char* kControllerName = "sampan.io/ingress";
inline constexpr const char* kClassName = "sampan";
inline constexpr const char* kDefaultClassAnnotation =
    "ingressclass.kubernetes.io/is-default-class";

}  // namespace sampan::ingress
