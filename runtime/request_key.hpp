#pragma once

#include <string_view>

#include "http/http_head.hpp"
#include "runtime/snapshot.hpp"

namespace veer::runtime {

// The bytes ip_hash and sticky splits hash for a request: the configured header or
// cookie, or the client address when the request does not carry it or its first
// occurrence is empty (so every request still gets a stable backend). The same bytes
// nginx's variables hold in the export (admin/nginx_export_keys.cpp), so a split keeps
// each key on the same target in both. Views into the request head or `client_ip`.
std::string_view request_key(const HashKey& key, const http::RequestHead& head,
                             std::string_view client_ip);

// The value of cookie `name` in a Cookie header value ("a=1; b=2"), or "".
std::string_view cookie_value(std::string_view cookies, std::string_view name);

}  // namespace veer::runtime
