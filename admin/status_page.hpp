#pragma once

// The status page (GET / on the admin listener): one self-contained HTML document, its
// CSS, script and charts inline, so it works offline and behind any firewall. The page
// is static and open; its script reads /api/v1/pools, /api/v1/splits and
// /api/v1/rollouts with the admin token the operator enters (kept in sessionStorage),
// and inserts every string of the API as text, never as markup.

#include <string_view>

namespace veer::admin {

// The page's HTML.
std::string_view status_page_html();

// The Content-Security-Policy the page is served with: its own inline script and style,
// fetches to its own origin, nothing else (no external asset, no frame, no form post).
inline constexpr std::string_view kStatusPagePolicy =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'";

// The Content-Security-Policy header for a reply of `content_type`: the page's for
// HTML, none ("") for the API's JSON and text.
std::string_view content_security_policy(std::string_view content_type);

}  // namespace veer::admin
