// Status and Result<T>: sampan's one error type.
//
// Codes match the Kubernetes metav1.Status reasons one for one, so an error can
// travel from the store to kubectl without a translation table. A Status is
// cheap when OK (a null pointer). Expected failures are returned, never thrown.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace sampan {

enum class Code {
  kOk = 0,
  kNotFound,             // 404 NotFound
  kAlreadyExists,        // 409 AlreadyExists
  kConflict,             // 409 Conflict
  kInvalid,              // 422 Invalid (with causes)
  kBadRequest,           // 400 BadRequest
  kUnauthorized,         // 401 Unauthorized
  kForbidden,            // 403 Forbidden
  kMethodNotAllowed,     // 405 MethodNotAllowed
  kNotAcceptable,        // 406 NotAcceptable
  kGone,                 // 410 Gone / Expired (compacted revision)
  kRequestTooLarge,      // 413 RequestEntityTooLarge
  kUnsupportedMedia,     // 415 UnsupportedMediaType
  kTooManyRequests,      // 429 TooManyRequests
  kInternal,             // 500 InternalError
  kUnavailable,          // 503 ServiceUnavailable
  kTimeout,              // 504 Timeout
};

// The metav1.Status reason string ("NotFound", "AlreadyExists", ...).
std::string_view CodeReason(Code code);
// The HTTP status code Kubernetes uses for this reason.
int CodeHttpStatus(Code code);

// One field-level cause of an Invalid (or other) error: metav1.StatusCause.
struct Cause {
  std::string reason;   // "FieldValueInvalid", "FieldValueRequired", ...
  std::string message;  // "Invalid value: \"X\": ..."
  std::string field;    // "metadata.name"
};

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(Code code, std::string message);
  Status(Code code, std::string message, std::vector<Cause> causes);

  static Status Ok() { return Status(); }

  bool ok() const { return rep_ == nullptr; }
  Code code() const { return rep_ ? rep_->code : Code::kOk; }
  const std::string& message() const;
  const std::vector<Cause>& causes() const;
  std::string ToString() const;  // "NotFound: pods \"x\" not found"

  // Returns a copy whose message is "context: message".
  Status WithContext(std::string_view context) const;

 private:
  struct Rep {
    Code code;
    std::string message;
    std::vector<Cause> causes;
  };
  std::shared_ptr<const Rep> rep_;
};

inline Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
inline Status AlreadyExists(std::string m) { return Status(Code::kAlreadyExists, std::move(m)); }
inline Status Conflict(std::string m) { return Status(Code::kConflict, std::move(m)); }
inline Status Invalid(std::string m, std::vector<Cause> c = {}) {
  return Status(Code::kInvalid, std::move(m), std::move(c));
}
inline Status BadRequest(std::string m) { return Status(Code::kBadRequest, std::move(m)); }
inline Status Gone(std::string m) { return Status(Code::kGone, std::move(m)); }
inline Status Internal(std::string m) { return Status(Code::kInternal, std::move(m)); }
inline Status Unavailable(std::string m) { return Status(Code::kUnavailable, std::move(m)); }
inline Status Forbidden(std::string m) { return Status(Code::kForbidden, std::move(m)); }
// An Internal status carrying strerror(errno_value): "what: No such file or directory".
Status ErrnoStatus(std::string_view what, int errno_value);

// Result<T>: a T or a non-OK Status, shaped like std::expected.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}                      // NOLINT
  Result(Status status) : v_(std::move(status)) { Check(); }     // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<1>(v_);
  }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  void Check() const;
  std::variant<T, Status> v_;
};

[[noreturn]] void CheckFailed(const char* file, int line, const char* expr, const std::string& msg);

template <typename T>
void Result<T>::Check() const {
  if (std::get<1>(v_).ok()) CheckFailed(__FILE__, __LINE__, "!status.ok()", "Result built from OK");
}

}  // namespace sampan

// Crashes loudly on an impossible state.
#define SAMPAN_CHECK(cond)                                         \
  do {                                                             \
    if (!(cond)) ::sampan::CheckFailed(__FILE__, __LINE__, #cond, ""); \
  } while (0)

// Evaluates a Status expression; returns it from the caller if not OK.
#define RETURN_IF_ERROR(expr)                 \
  do {                                        \
    ::sampan::Status _st = (expr);            \
    if (!_st.ok()) return _st;                \
  } while (0)

#define SAMPAN_CONCAT_INNER(a, b) a##b
#define SAMPAN_CONCAT(a, b) SAMPAN_CONCAT_INNER(a, b)
// ASSIGN_OR_RETURN(auto x, F()) : x = *F(), or return its Status.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(SAMPAN_CONCAT(_res_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()
