#include "util/status.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace sampan {

std::string_view CodeReason(Code code) {
  switch (code) {
    case Code::kOk: return "";
    case Code::kNotFound: return "NotFound";
    case Code::kAlreadyExists: return "AlreadyExists";
    case Code::kConflict: return "Conflict";
    case Code::kInvalid: return "Invalid";
    case Code::kBadRequest: return "BadRequest";
    case Code::kUnauthorized: return "Unauthorized";
    case Code::kForbidden: return "Forbidden";
    case Code::kMethodNotAllowed: return "MethodNotAllowed";
    case Code::kNotAcceptable: return "NotAcceptable";
    case Code::kGone: return "Expired";
    case Code::kRequestTooLarge: return "RequestEntityTooLarge";
    case Code::kUnsupportedMedia: return "UnsupportedMediaType";
    case Code::kTooManyRequests: return "TooManyRequests";
    case Code::kInternal: return "InternalError";
    case Code::kUnavailable: return "ServiceUnavailable";
    case Code::kTimeout: return "Timeout";
  }
  return "Unknown";
}

int CodeHttpStatus(Code code) {
  switch (code) {
    case Code::kOk: return 200;
    case Code::kNotFound: return 404;
    case Code::kAlreadyExists: return 409;
    case Code::kConflict: return 409;
    case Code::kInvalid: return 422;
    case Code::kBadRequest: return 400;
    case Code::kUnauthorized: return 401;
    case Code::kForbidden: return 403;
    case Code::kMethodNotAllowed: return 405;
    case Code::kNotAcceptable: return 406;
    case Code::kGone: return 410;
    case Code::kRequestTooLarge: return 413;
    case Code::kUnsupportedMedia: return 415;
    case Code::kTooManyRequests: return 429;
    case Code::kInternal: return 500;
    case Code::kUnavailable: return 503;
    case Code::kTimeout: return 504;
  }
  return 500;
}

Status::Status(Code code, std::string message) : Status(code, std::move(message), {}) {}

Status::Status(Code code, std::string message, std::vector<Cause> causes) {
  if (code != Code::kOk) {
    rep_ = std::make_shared<const Rep>(Rep{code, std::move(message), std::move(causes)});
  }
}

const std::string& Status::message() const {
  static const std::string kEmpty;
  return rep_ ? rep_->message : kEmpty;
}

const std::vector<Cause>& Status::causes() const {
  static const std::vector<Cause> kNone;
  return rep_ ? rep_->causes : kNone;
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  return std::string(CodeReason(code())) + ": " + message();
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  return Status(code(), std::string(context) + ": " + message(), causes());
}

Status ErrnoStatus(std::string_view what, int errno_value) {
  return Status(Code::kInternal, std::string(what) + ": " + std::strerror(errno_value));
}

void CheckFailed(const char* file, int line, const char* expr, const std::string& msg) {
  std::fprintf(stderr, "FATAL %s:%d: check failed: %s %s\n", file, line, expr, msg.c_str());
  std::abort();
}

}  // namespace sampan
