// Follows the values of the topics a filter matches and prints each new
// value whole, one line per change: `<path> <value>`. The SDK applies the
// server's JSON Patch and binary deltas; this program only sees values.
//
//   castor-example-value_follower HOST PORT FILTER COUNT
//
// Exits after COUNT values, printing on stderr how many arrived as deltas.

#include <castor/client.hpp>

#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: " << argv[0] << " HOST PORT FILTER COUNT\n";
    return 2;
  }
  castor::connect_options opts;
  opts.host = argv[1];
  opts.port = static_cast<uint16_t>(std::stoi(argv[2]));
  long wanted = std::stol(argv[4]);
  std::mutex m;
  std::condition_variable cv;
  long seen = 0;
  long deltas = 0;
  castor::client c;
  try {
    c.connect(opts);
    c.subscribe_values(argv[3], [&](const std::string& path,
                                    const std::optional<castor::value>&,
                                    const castor::value& v) {
       // Runs on the client's I/O thread, one value at a time.
       std::printf("%s %s\n", path.c_str(),
                   v.is_json ? v.data.dump().c_str() : v.payload.c_str());
       std::fflush(stdout);
       std::lock_guard<std::mutex> g(m);
       ++seen;
       deltas += v.from_delta ? 1 : 0;
       cv.notify_all();
     }).get();
    std::fprintf(stderr, "subscribed\n");
    std::unique_lock<std::mutex> g(m);
    cv.wait(g, [&] { return seen >= wanted; });
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  c.disconnect();
  std::fprintf(stderr, "deltas %ld\n", deltas);
  return 0;
}
