#pragma once

// The web console's static files, built into the binary: CMake generates
// their table from console/ (cmake/embed_console.cmake), with MQTT.js's
// browser bundle from npm as vendor/mqtt.min.js when it was installed.

#include <cstddef>
#include <string_view>

namespace castor::console {

struct file {
  const char* name;         ///< path under /console/, e.g. "js/app.js"
  const char* content_type; ///< e.g. "text/javascript; charset=utf-8"
  const char* etag;         ///< a quoted digest of the content
  const unsigned char* data;
  std::size_t size;
};

/// The files, `file_count()` of them.
const file* files() noexcept;
std::size_t file_count() noexcept;

} // namespace castor::console
